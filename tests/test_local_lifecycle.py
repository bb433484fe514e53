"""The generated repo's local-mode lifecycle (scripts/local_run), fully offline on the host side.

Docker tier (`pytest --docker`): builds the default render's model image on the stand-in base image, then runs
the generated project's own lifecycle tests (tests/pipeline/test_local_lifecycle.py: the whole lifecycle, a bad
hyperparameter refused before any container, Ctrl-C during training) with the host process in a network
namespace of its own and no AWS variable at all. Docker is still reached through its unix socket; the job
containers run as usual.
Also: the lifecycle with Compose v2, and run by an unprivileged user who must get every output file back.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.bake import clean_env, recorded_answers, run

pytestmark = pytest.mark.docker


def offline_env(base_image: str) -> dict[str, str]:
    """A user's shell with no AWS identity, region or endpoint whatsoever."""
    env = {key: value for key, value in clean_env().items() if not key.startswith("AWS_")}
    env["BASE_IMAGE"] = base_image
    return env


def without_network() -> list[str]:
    """A command prefix that runs in a network namespace of its own with only loopback up: nothing leaves the
    machine, while servers on 127.0.0.1 (the local pipeline's in-memory S3) answer as on any laptop."""
    # Root can unshare the network directly; anyone else needs a user namespace for it.
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    return [*unshare, "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def test_the_lifecycle_runs_in_local_mode_without_network_or_aws(set_up_project: Path, base_image: str) -> None:
    env = offline_env(base_image)
    # The image build needs the package index; it runs first, with the network.
    built = run(
        ["scripts/local_run/local_mode.sh", "build"],
        cwd=set_up_project,
        env={**env, "DOCKER_BUILD_NETWORK": "host"},
        timeout=3600,
    )
    model = recorded_answers(set_up_project)["cookiecutter"]["model_name"]
    settings = run(
        [".venv/bin/python", "-m", "utils.config_reader", "image", "--env", "local", "--model", model],
        cwd=set_up_project / "code" / "pipeline",
        env=env,
    ).stdout
    # Local runs name their image by the one tag rule, as build.sh and the batches do.
    assert f"reference={built.stdout.strip().splitlines()[-1]}\n" in settings
    # The namespace really has no way out: not even a name lookup succeeds in it.
    probe = run([*without_network(), "getent", "hosts", "pypi.org"], env=env, check=False)
    assert probe.returncode != 0

    result = run(
        [*without_network(), "poetry", "run", "pytest", "-m", "docker", "-p", "no:cacheprovider", "-v"],
        cwd=set_up_project / "code" / "pipeline",
        env=env,
        timeout=3600,
    )

    for test in (
        "test_the_lifecycle_completes_and_records_every_job",
        "test_the_model_archive_loads_and_scores_the_collected_rows",
        "test_the_evaluation_report_scores_above_the_floor_and_has_plots",
        "test_every_collected_row_gets_a_prediction",
        "test_no_job_container_is_left_behind",
        "test_a_bad_hyperparameter_is_refused_with_the_jobs_message_before_any_container_or_record",
        "test_ctrl_c_during_training_stops_the_job_and_no_later_run_uses_it[process-group]",
        "test_ctrl_c_during_training_stops_the_job_and_no_later_run_uses_it[script-only]",
        "test_ctrl_c_during_the_lifecycle_stops_it_at_the_running_stage_and_leaves_nothing_running",
        "test_an_image_that_fails_to_build_stops_the_job_before_anything_runs",
        "test_a_local_execution_passes_the_gate_and_registers_a_version_pending_approval",
        "test_a_local_execution_copies_every_steps_outputs_into_its_run_folder",
        "test_status_shows_the_latest_local_execution",
        "test_a_threshold_no_model_reaches_fails_at_the_gate_naming_it_and_leaves_no_container",
        "test_with_tuning_the_local_execution_searches_and_evaluates_and_registers_the_best_trials_model",
        "test_a_local_search_of_three_trials_records_each_and_makes_the_best_the_next_model",
        "test_the_execution_is_one_mlflow_parent_run_with_a_child_per_step",
        "test_the_lifecycle_is_one_mlflow_parent_run_with_its_training_and_evaluation",
    ):
        assert f"{test} PASSED" in result.stdout, result.stdout[-4000:]


def test_the_lifecycle_runs_with_compose_v2(
    set_up_project: Path, base_image: str, compose_v2_docker_config: str | None, tmp_path: Path
) -> None:
    env = offline_env(base_image)
    if compose_v2_docker_config:
        env["DOCKER_CONFIG"] = compose_v2_docker_config
    # A docker-compose (v1) that refuses to run proves every job went through `docker compose` (v2).
    shim = tmp_path / "bin" / "docker-compose"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'docker-compose v1 must not be used here' >&2\nexit 97\n")
    shim.chmod(0o755)
    env["PATH"] = f"{shim.parent}:{env['PATH']}"
    run(  # the image build needs the package index (a no-op when the first test built it)
        ["scripts/local_run/local_mode.sh", "build"],
        cwd=set_up_project,
        env={**env, "DOCKER_BUILD_NETWORK": "host"},
        timeout=3600,
    )

    result = run([*without_network(), "scripts/local_run/pipeline.sh"], cwd=set_up_project, env=env, timeout=3600)

    summary = result.stdout + result.stderr
    assert "v1 must not be used" not in summary
    for stage in ("collection", "preprocess", "training", "evaluation", "inference"):
        assert f"{stage}: Completed" in summary


@dataclass(frozen=True)
class Caller:
    """The user who runs the generated scripts, and the command prefix that runs a command as them."""

    uid: int
    home: Path
    prefix: tuple[str, ...]

    def env(self, base: dict[str, str]) -> dict[str, str]:
        name = pwd.getpwuid(self.uid).pw_name
        return {**base, "HOME": str(self.home), "USER": name, "LOGNAME": name}


def docker_socket_group() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.fail(f"the ownership test reaches Docker through its unix socket; DOCKER_HOST is {host}")
    return grp.getgrgid(Path(host.removeprefix("unix://")).stat().st_gid).gr_name


@pytest.fixture
def unprivileged_caller(set_up_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caller]:
    """The suite's own user when it is not root; under root (as on CI) a throwaway user in Docker's group.

    pytest keeps its temporary folders private (mode 0700), so the rendered project's folders are made
    traversable for the duration of the test, then restored.
    """
    if os.geteuid() != 0:
        yield Caller(os.getuid(), tmp_path_factory.mktemp("home"), ())
        return

    name = f"smlocal{secrets.token_hex(3)}"
    home = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    run(["useradd", "--no-create-home", "--home-dir", str(home), "--groups", docker_socket_group(), name])
    ancestors = [path for path in set_up_project.parents if path.is_relative_to(tempfile.gettempdir())]
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in [set_up_project, *ancestors]}
    try:
        user = pwd.getpwnam(name)
        os.chown(home, user.pw_uid, user.pw_gid)
        for path, mode in modes.items():
            path.chmod(mode | stat.S_IXOTH)
        caller = Caller(user.pw_uid, home, ("setpriv", f"--reuid={name}", f"--regid={name}", "--init-groups", "--"))
        env = caller.env(clean_env())
        python = set_up_project / "code/pipeline/.venv/bin/python"
        probe = run([*caller.prefix, str(python), "-V"], env=env, check=False)
        if probe.returncode != 0:
            pytest.fail(
                f"an unprivileged user cannot run {python}: {probe.stderr.strip()}\n"
                "The folders of the interpreter behind it must be traversable by others (pyenv under /root: "
                "`chmod o+x /root`, as .ci/run does).",
                pytrace=False,
            )
        yield caller
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
        run(["userdel", name], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_a_non_root_caller_gets_every_output_file_back(
    set_up_project: Path, base_image: str, unprivileged_caller: Caller
) -> None:
    caller = unprivileged_caller
    env = offline_env(base_image)
    run(  # the image build needs the package index (a no-op when an earlier test built it)
        ["scripts/local_run/local_mode.sh", "build"],
        cwd=set_up_project,
        env={**env, "DOCKER_BUILD_NETWORK": "host"},
        timeout=3600,
    )
    # The project is root's on CI; the caller's runs (and their database) go to a folder of the caller's.
    runs = caller.home / "runs"
    run([*caller.prefix, "mkdir", str(runs)], env=caller.env(env))

    run(
        [*caller.prefix, "scripts/local_run/pipeline.sh", "--run-folder", "as-caller"],
        cwd=set_up_project,
        env={**caller.env(env), "PIPELINE_RUNS_DIR": str(runs)},
        timeout=3600,
    )

    outputs = list((runs / "as-caller").rglob("*"))
    assert any(path.name == "model.tar.gz" for path in outputs)
    assert any(path.suffix == ".png" for path in outputs)
    not_theirs = [str(path) for path in [runs, *runs.rglob("*")] if path.lstat().st_uid != caller.uid]
    assert not_theirs == []
    # What the user really needs: to clear their runs away without sudo.
    run([*caller.prefix, "rm", "-rf", str(runs / "as-caller")], env=caller.env(env))
    assert not (runs / "as-caller").exists()
