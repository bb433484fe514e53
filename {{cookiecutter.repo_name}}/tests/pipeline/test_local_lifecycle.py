"""The whole lifecycle in SageMaker local mode, through the scripts a developer runs: real images, real
Docker Compose, no AWS. Docker tier: `poetry run pytest -m docker` (fails, never skips, without Docker).

The model image is brought up to date by the scripts themselves (BASE_IMAGE and DOCKER_BUILD_NETWORK pass
through); runs and the job database go to a temporary PIPELINE_RUNS_DIR.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import pytest
import yaml
from mlflow.tracking import MlflowClient
from support.local_runs import (
    REPO_ROOT,
    SCRIPTS,
    leftover_containers,
    run_script,
    script_env,
)

from utils.aws.local_mode import LocalModeExecutor
from utils.config_reader import CONFIG_DIR, load_config
from utils.db.db_adapter import DbAdapter, run_folder_jobs
from utils.db.enum import JobStatus, JobType
from utils.db.schema import Job
from utils.job_definition import JobResult, define_job
from utils.layout import Layout, new_run_id
from utils.tracking import PARENT_TAG, RUN_FOLDER_TAG

pytestmark = pytest.mark.docker

# The example is sklearn's breast cancer data; any sane model of it scores far above this.
ROC_AUC_FLOOR = 0.9


@dataclass
class Finished:
    run_folder: str
    folder: Path
    result: subprocess.CompletedProcess[str]
    jobs: list[Job]


def folder_jobs(runs_dir: Path, folder: Path) -> list[Job]:
    db = DbAdapter(f"sqlite:///{runs_dir / 'local.sqlite3'}")
    try:
        return run_folder_jobs(db.list_jobs(None, 1000), folder.as_posix())
    finally:
        db.close()


@pytest.fixture(scope="module")
def runs_dir(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def lifecycle(runs_dir: Path) -> Iterator[Finished]:
    run_folder = "lifecycle-test"
    result = run_script("pipeline.sh", "--run-folder", run_folder, runs_dir=runs_dir)
    if result.returncode != 0:
        pytest.fail(f"pipeline.sh exited {result.returncode}:\n{result.stderr[-4000:]}", pytrace=False)
    folder = runs_dir / run_folder
    yield Finished(run_folder, folder, result, folder_jobs(runs_dir, folder))


def by_type(finished: Finished, job_type: JobType) -> Job:
    [job] = [job for job in finished.jobs if job.job_type is job_type]
    return job


def test_the_lifecycle_completes_and_records_every_job(lifecycle: Finished) -> None:
    assert lifecycle.result.returncode == 0, lifecycle.result.stderr[-6000:]
    assert f"run folder: {lifecycle.run_folder}" in lifecycle.result.stdout
    assert [job.job_type for job in lifecycle.jobs] == list(JobType)
    assert all(job.status is JobStatus.COMPLETED for job in lifecycle.jobs)
    for stage in JobType:
        assert f"[{list(JobType).index(stage) + 1}/5] {stage} done" in lifecycle.result.stderr
    # Completed jobs leave their outputs in the run folder, not the SDK's working copies.
    assert sorted(path.name for path in lifecycle.folder.glob("*/container-*")) == []


def test_the_model_archive_loads_and_scores_the_collected_rows(lifecycle: Finished) -> None:
    archive = lifecycle.folder / "training" / "model" / "model.tar.gz"
    assert by_type(lifecycle, JobType.TRAINING).output_uris["model"] == archive.as_posix()
    with (lifecycle.folder / "collection" / "raw" / "data.csv").open() as raw:
        rows = list(csv.DictReader(raw))
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("model.joblib")
        assert member is not None
        model = joblib.load(member)
    features = [[float(row[name]) for name in model.feature_names_in_] for row in rows]
    with warnings.catch_warnings():
        # Fitted on a DataFrame, scored on plain lists here: only the column names are missing.
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        probabilities = model.predict_proba(features)
    assert probabilities.shape == (len(rows), 2)


def test_the_evaluation_report_scores_above_the_floor_and_has_plots(lifecycle: Finished) -> None:
    folder = lifecycle.folder / "evaluation" / "report"
    report = json.loads((folder / "evaluation.json").read_text())
    roc_auc = report["binary_classification_metrics"]["roc_auc"]["value"]
    assert roc_auc > ROC_AUC_FLOOR
    assert by_type(lifecycle, JobType.EVALUATION).metrics["roc_auc"] == pytest.approx(roc_auc)
    assert list(folder.glob("*.png"))
    assert "roc_curve.png" in lifecycle.result.stdout


def test_every_collected_row_gets_a_prediction(lifecycle: Finished, runs_dir: Path) -> None:
    with (lifecycle.folder / "collection" / "raw" / "data.csv").open() as raw:
        ids = {row["id"] for row in csv.DictReader(raw)}
    with (lifecycle.folder / "inference" / "predictions" / "data.csv").open() as predictions:
        predicted = {row["id"] for row in csv.DictReader(predictions)}
    assert ids
    assert predicted == ids
    db = DbAdapter(f"sqlite:///{runs_dir / 'local.sqlite3'}")
    try:
        assert len(db.predictions(by_type(lifecycle, JobType.INFERENCE).run_id)) == len(ids)
    finally:
        db.close()


def test_the_lifecycle_is_one_mlflow_parent_run_with_its_training_and_evaluation(
    lifecycle: Finished, runs_dir: Path
) -> None:
    client = MlflowClient(f"sqlite:///{runs_dir / 'mlflow.sqlite3'}")
    runs = client.search_runs([experiment.experiment_id for experiment in client.search_experiments()])
    [parent] = [run for run in runs if run.data.tags.get(RUN_FOLDER_TAG) == lifecycle.run_folder]
    children = {
        run.data.tags["job_type"]: run for run in runs if run.data.tags.get(PARENT_TAG) == parent.info.run_id
    }
    assert set(children) == {"training", "evaluation"}
    training = by_type(lifecycle, JobType.TRAINING)
    assert children["training"].data.params == {
        name: str(value) for name, value in training.parameters.items()
    }
    assert children["training"].data.metrics == pytest.approx(training.metrics)
    report = [item.path for item in client.list_artifacts(children["evaluation"].info.run_id)]
    assert "evaluation.json" in report
    assert any(path.endswith(".png") for path in report)


def test_everything_lands_in_the_run_folder_owned_by_the_caller(lifecycle: Finished) -> None:
    assert all(
        Path(uri).is_relative_to(lifecycle.folder)
        for job in lifecycle.jobs
        for uri in job.output_uris.values()
    )
    strangers = [path for path in lifecycle.folder.rglob("*") if path.lstat().st_uid != os.getuid()]
    assert strangers == []


def test_no_job_container_is_left_behind(lifecycle: Finished, runs_dir: Path) -> None:
    assert lifecycle.result.returncode == 0
    assert leftover_containers(runs_dir) == []


def test_a_bad_hyperparameter_is_refused_with_the_jobs_message_before_any_container_or_record(
    lifecycle: Finished, runs_dir: Path
) -> None:
    assert lifecycle.result.returncode == 0, "the training batch needs the lifecycle's preprocess run"
    db = DbAdapter(f"sqlite:///{runs_dir / 'local.sqlite3'}")
    try:
        records_before = len(db.list_jobs(limit=1000))

        result = run_script(
            "local_mode.sh", "training", "--hyperparameter", "learning_rate=-1", runs_dir=runs_dir
        )

        assert result.returncode == 2
        assert "the training job would refuse its parameters, so nothing was started" in result.stderr
        assert "learning_rate=-1.0 must be in (0, 1]" in result.stderr  # the job's own words
        assert len(db.list_jobs(limit=1000)) == records_before
    finally:
        db.close()
    assert leftover_containers(runs_dir) == []


def test_an_image_that_fails_to_build_stops_the_job_before_anything_runs(
    docker_engine: None, tmp_path: Path
) -> None:
    runs_dir = tmp_path / "runs"
    no_base = {"BASE_IMAGE": "local/no-such-base-image:0"}  # found nowhere: the build fails

    result = run_script("local_mode.sh", "preprocess", runs_dir=runs_dir, env=no_base)

    assert result.returncode == 1, result.stderr[-4000:]
    assert re.search(r"building \S+ failed \(see above\)", result.stderr), result.stderr[-4000:]
    assert "==> preprocess of" not in result.stderr
    assert not list(runs_dir.glob("*/preprocess"))
    assert leftover_containers(runs_dir) == []


@pytest.fixture(scope="module")
def preprocessed(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with its own job database, holding one collected and preprocessed run."""
    runs_dir = tmp_path_factory.mktemp("interrupted-runs")
    for job in ("collection", "preprocess"):
        result = run_script("local_mode.sh", "--run-folder", "splits", job, runs_dir=runs_dir)
        assert result.returncode == 0, result.stderr[-6000:]
    return runs_dir


def wait_for_a_running_container(folder: Path, script: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 900  # the first call may build the model image
    while not leftover_containers(folder, "--filter", "status=running"):
        if script.poll() is not None:
            pytest.fail(f"the script ended before its job container ran:\n{log.read_text()[-6000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no job container started:\n{log.read_text()[-6000:]}")
        time.sleep(0.5)


def as_from_a_terminal() -> None:
    """SIGINT as a terminal's shell leaves it for the commands it starts. A suite started in the background
    (`cmd &` in a script, nohup) passes SIGINT on ignored, and an ignored signal cannot be trapped."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def ctrl_c_while_a_job_runs(
    runs_dir: Path, run_folder: str, script_args: list[str], *, whole_group: bool = True
) -> tuple[int, str]:
    """Start scripts/local_run/SCRIPT ARGS as from a terminal, send SIGINT once a job container of
    `run_folder` runs (to the process group, as Ctrl-C does, or to the script alone), and wait for the end:
    the script's exit code and everything it printed."""
    log = runs_dir / f"{run_folder}.log"
    with log.open("w") as output:
        script = subprocess.Popen(
            [str(SCRIPTS / script_args[0]), *script_args[1:]],
            cwd=REPO_ROOT,
            env=script_env(runs_dir),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=as_from_a_terminal,
            text=True,
        )
        try:
            wait_for_a_running_container(runs_dir / run_folder, script, log)
            if whole_group:
                os.killpg(script.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            else:
                os.kill(script.pid, signal.SIGINT)
            returncode = script.wait(timeout=300)
        finally:
            if script.poll() is None:
                os.killpg(script.pid, signal.SIGKILL)
                script.wait()
    return returncode, log.read_text()


@pytest.mark.parametrize("receiver", ["process-group", "script-only"])
def test_ctrl_c_during_training_stops_the_job_and_no_later_run_uses_it(
    preprocessed: Path, receiver: str
) -> None:
    runs_dir = preprocessed
    run_folder = f"ctrl-c-{receiver}"
    slow = ["--hyperparameter", "n_estimators=5000", "--hyperparameter", "max_depth=8"]
    returncode, printed = ctrl_c_while_a_job_runs(
        runs_dir,
        run_folder,
        ["local_mode.sh", "--run-folder", run_folder, "training", *slow],
        whole_group=receiver == "process-group",
    )

    assert returncode == 130, printed[-6000:]
    [training] = folder_jobs(runs_dir, runs_dir / run_folder)
    assert training.status is JobStatus.STOPPED
    assert training.failure_reason is not None and training.failure_reason.startswith("stopped ")
    assert f"{training.job_name} stopped by SIGINT; recorded Stopped" in printed
    assert leftover_containers(runs_dir) == []
    assert not (runs_dir / run_folder / "training" / "model" / "model.tar.gz").exists()

    latest = run_script("local_mode.sh", "--run-folder", run_folder, "evaluation", runs_dir=runs_dir)
    assert latest.returncode != 0
    assert "no completed training run" in latest.stderr
    named = run_script("local_mode.sh", "evaluation", "--training-run-id", training.run_id, runs_dir=runs_dir)
    assert named.returncode != 0
    assert f"training run {training.run_id} is Stopped, not Completed" in named.stderr
    assert leftover_containers(runs_dir) == []


def test_ctrl_c_during_the_lifecycle_stops_it_at_the_running_stage_and_leaves_nothing_running(
    preprocessed: Path,
) -> None:
    runs_dir = preprocessed
    run_folder = "ctrl-c-lifecycle"
    returncode, printed = ctrl_c_while_a_job_runs(
        runs_dir, run_folder, ["pipeline.sh", "--run-folder", run_folder]
    )

    assert returncode == 130, printed[-6000:]
    stopped = re.search(r"\[(\d)/5\] (\w+) stopped by SIGINT after", printed)
    assert stopped is not None, printed[-6000:]
    stage = JobType(stopped.group(2))
    jobs = {job.job_type: job for job in folder_jobs(runs_dir, runs_dir / run_folder)}
    assert jobs[stage].status is JobStatus.STOPPED
    assert all(job.status is JobStatus.COMPLETED for job in jobs.values() if job.job_type is not stage)
    assert len(jobs) == int(stopped.group(1))  # no later stage started
    assert "lifecycle done" not in printed
    assert leftover_containers(runs_dir) == []


def two_host_training(
    lifecycle: Finished, runs_dir: Path, tmp_path: Path, channels: dict[str, str]
) -> JobResult:
    """A training job of the lifecycle's model with `instance_count: 2` in a copy of the local config, run by
    the local-mode executor on `channels`: local mode starts it as algo-1 and algo-2."""
    folder = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, folder)
    raw = yaml.safe_load((folder / "local.yaml").read_text(encoding="utf-8"))
    for settings in raw["models"].values():
        settings["training"]["instance_count"] = 2
    (folder / "local.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    model = by_type(lifecycle, JobType.TRAINING).model_name
    config = load_config("local", config_dir=folder, environ=script_env(runs_dir), model=model)
    layout = Layout(config)
    run = layout.run(JobType.TRAINING, new_run_id())
    job = define_job(
        config,
        JobType.TRAINING,
        run,
        layout.job_name(JobType.TRAINING, run.run_id),
        image_uri=config.image_uri(),
        inputs=channels,
        outputs={"model_output": run.model_output},
    )
    return LocalModeExecutor(config).run(job, lambda *_, **__: None)


def test_two_instances_train_as_two_containers_and_only_the_leader_writes_the_model(
    lifecycle: Finished, runs_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    preprocess = by_type(lifecycle, JobType.PREPROCESS)
    channels = {name: preprocess.output_uris[name] for name in ("train", "validation")}

    result = two_host_training(lifecycle, runs_dir, tmp_path, channels)

    log = capfd.readouterr().err
    assert result.status is JobStatus.COMPLETED, result.failure_reason
    assert "host algo-1, the leader, of 2" in log
    assert "host algo-2, a follower of algo-1, of 2" in log
    with tarfile.open(result.output_uris["model"]) as archive:
        assert [Path(name).name for name in archive.getnames() if name.endswith(".joblib")] == [
            "model.joblib"
        ]
    assert leftover_containers(runs_dir) == []


def test_a_failed_host_of_two_reaches_the_result_with_its_own_reason(
    lifecycle: Finished, runs_dir: Path, tmp_path: Path
) -> None:
    preprocess = by_type(lifecycle, JobType.PREPROCESS)
    broken = tmp_path / "train"
    broken.mkdir()
    with (Path(preprocess.output_uris["train"]) / "train.csv").open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    with (broken / "train.csv").open("w", encoding="utf-8", newline="") as target:
        columns = [name for name in rows[0] if name != "label"]
        writer = csv.DictWriter(target, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    channels = {"train": str(broken), "validation": preprocess.output_uris["validation"]}

    result = two_host_training(lifecycle, runs_dir, tmp_path, channels)

    assert result.status is JobStatus.FAILED
    assert result.failure_reason is not None and "missing column(s): label" in result.failure_reason
    assert leftover_containers(runs_dir) == []
