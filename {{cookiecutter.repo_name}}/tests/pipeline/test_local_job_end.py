"""How a local-mode job's end is decided, without Docker: by its containers' own exits and by its outputs,
never by the SDK's word alone; with a canary for the SDK behaviour this works around, and the rule that an
ended job's record is final."""

from __future__ import annotations

import io
import subprocess
import tarfile
import warnings
from pathlib import Path

import pytest
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.local.image import _stream_output as stream_compose_output
from sagemaker.core.training.configs import Compute, InputData
from sagemaker.train import model_trainer

from utils.aws.local_containers import ContainerEnd, containers_verdict, run_local_job
from utils.aws.local_mode import empty_output_problem, model_archive_problem
from utils.aws.sdk_workarounds import SDK_CONFIG
from utils.aws.session import EndpointSession
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobStatus, JobType
from utils.errors import DatabaseError


def compose_exiting_with(code: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["sh", "-c", f"echo 'Gracefully stopping...'; exit {code}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_canary_sagemaker_core_takes_an_interrupted_compose_for_success() -> None:
    """sagemaker-core 2.27 returns 130 (an interrupted `compose up`) as success and raises on other codes.
    `containers_verdict` exists for the first half: once this fails, the SDK itself reports interrupted jobs
    and the workaround's docstring needs a second look."""
    with compose_exiting_with(130) as interrupted, compose_exiting_with(1) as failed:
        assert stream_compose_output(interrupted) == 130
        with pytest.raises(RuntimeError, match="Process exited with code: 1"):
            stream_compose_output(failed)


class InterruptedLocalContainer:
    def __init__(self, **_: object) -> None:
        pass

    def train(self, wait: bool) -> None:
        raise KeyboardInterrupt


def test_canary_model_trainer_swallows_an_interrupt_of_its_local_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sagemaker-train 1.27's ModelTrainer.train returns normally when its local job is interrupted: the
    telemetry decorator of sagemaker-core 2.27 returns from a `finally`. `JobRecord.run` checks the signals it
    saw for this reason; once this fails, the SDK passes interrupts on and that check has no more to do."""
    monkeypatch.setattr(model_trainer, "_LocalContainer", InterruptedLocalContainer)
    session = Session(boto_session=EndpointSession("us-east-1", None), sagemaker_config=SDK_CONFIG)
    trainer = model_trainer.ModelTrainer(
        training_mode=model_trainer.Mode.LOCAL_CONTAINER,
        sagemaker_session=session,
        local_container_root=str(tmp_path),
        training_image="canary:latest",
        base_job_name="canary",
        compute=Compute(instance_type="local_cpu", instance_count=1),
    )

    trainer.train(input_data_config=[InputData(channel_name="train", data_source=str(tmp_path))], wait=True)


class UnclosedPipe:
    """What a local-mode job leaves behind: an object in a reference cycle whose clean-up warns."""

    def __init__(self, cleaned_up: list[str]) -> None:
        self.cycle = self
        self.cleaned_up = cleaned_up

    def __del__(self) -> None:
        self.cleaned_up.append("pipe")
        warnings.warn("unclosed pipe", ResourceWarning, stacklevel=1)


def test_a_local_jobs_garbage_goes_with_it_and_quietly(tmp_path: Path) -> None:
    """The SDK's unclosed pipe is cleaned up before the job's call returns, its warning unheard (the tests
    turn any warning into an error, and one escaping later would fail whichever test ran then)."""
    cleaned_up: list[str] = []

    status, reason = run_local_job(
        lambda: UnclosedPipe(cleaned_up), str(tmp_path / "no-container-root"), "example:latest"
    )

    assert (status, reason) == (JobStatus.COMPLETED, None)
    assert cleaned_up == ["pipe"]


def container(name: str, exit_code: int = 0, running: bool = False, oom_killed: bool = False) -> ContainerEnd:
    return ContainerEnd(f"id-{name}", name, running, exit_code, oom_killed)


def test_containers_that_all_exited_zero_leave_the_verdict_to_the_outputs() -> None:
    assert containers_verdict([container("algo-1-a"), container("algo-2-a")]) is None
    assert containers_verdict([]) is None


@pytest.mark.parametrize(
    ("containers", "verdict"),
    [
        ([container("algo-1-a", running=True)], (JobStatus.STOPPED, "container algo-1-a was still running")),
        ([container("algo-1-a", 137)], (JobStatus.STOPPED, "ended by a signal (exit code 137)")),
        ([container("algo-1-a", 130), container("algo-2-a", 143)], (JobStatus.STOPPED, "exit code 130")),
        ([container("algo-1-a", 1)], (JobStatus.FAILED, "container algo-1-a exited with code 1")),
        ([container("algo-1-a", 137, oom_killed=True)], (JobStatus.FAILED, "ran out of memory")),
    ],
    ids=["still-running", "killed", "interrupted", "crashed", "out-of-memory"],
)
def test_a_container_that_was_stopped_or_crashed_decides_the_job(
    containers: list[ContainerEnd], verdict: tuple[JobStatus, str]
) -> None:
    result = containers_verdict(containers)

    assert result is not None
    assert result[0] is verdict[0]
    assert verdict[1] in result[1]


def test_a_container_stopped_by_composes_cascade_after_another_finished_is_no_stop_of_the_job() -> None:
    assert containers_verdict([container("algo-1-a"), container("algo-2-a", 137)]) is None


def archive(path: Path, files: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    path.write_bytes(buffer.getvalue())
    return path


def test_a_model_archive_must_hold_the_model_file(tmp_path: Path) -> None:
    assert model_archive_problem(archive(tmp_path / "good.tar.gz", {"model.joblib": b"model"})) is None
    assert model_archive_problem(tmp_path / "missing.tar.gz") == f"the job wrote no {tmp_path}/missing.tar.gz"
    empty = model_archive_problem(archive(tmp_path / "empty.tar.gz", {}))
    assert empty is not None and empty.endswith("holds no model.joblib (it holds nothing)")
    other = model_archive_problem(archive(tmp_path / "other.tar.gz", {"notes.txt": b"x"}))
    assert other is not None and other.endswith("holds no model.joblib (it holds notes.txt)")
    (tmp_path / "broken.tar.gz").write_bytes(b"not a gzip file")
    broken = model_archive_problem(tmp_path / "broken.tar.gz")
    assert broken is not None and "broken.tar.gz is unreadable" in broken


def test_every_processing_output_must_hold_a_file(tmp_path: Path) -> None:
    (tmp_path / "train" / "part").mkdir(parents=True)
    (tmp_path / "train" / "part" / "train.csv").write_text("id\n")
    (tmp_path / "test").mkdir()
    outputs = {"train": str(tmp_path / "train"), "test": str(tmp_path / "test")}

    assert empty_output_problem({"train": outputs["train"]}) is None
    assert empty_output_problem(outputs) == f"the job wrote nothing to its test output ({tmp_path}/test)"
    assert empty_output_problem({"gone": str(tmp_path / "gone")}) is not None


def test_an_ended_job_keeps_its_status(db: DbAdapter) -> None:
    db.create_job(
        run_id="r1", job_type=JobType.TRAINING, job_name="job-r1", model_name="m", environment="local"
    )
    db.update_job("r1", JobStatus.IN_PROGRESS)
    db.update_job("r1", JobStatus.STOPPED, failure_reason="stopped by SIGINT before it finished")

    with pytest.raises(DatabaseError, match="training run r1 ended Stopped: its status is final"):
        db.update_job("r1", JobStatus.COMPLETED)
    db.update_job("r1", JobStatus.STOPPED)

    job = db.get_job("r1")
    assert job is not None
    assert job.status is JobStatus.STOPPED
    assert [t.status for t in job.transitions][-1] is JobStatus.STOPPED
