"""The built image run the way SageMaker runs it: `train` on mounted /opt/ml folders for training, and each
processing job's entrypoint with /opt/ml/processing mounts. Docker tier: `pytest -m docker`.

The image is MODEL_IMAGE when set, else built with scripts/docker/container/build.sh --env local, as local
runs build it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from fake_opt_ml import training_tree

from utils.data import write_csv
from utils.schema import ID_COLUMN, LABEL_COLUMN

pytestmark = pytest.mark.docker

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL = Path(__file__).resolve().parent.name
PROCESSING = "/opt/ml/processing"
# SageMaker names hosts algo-1, algo-2...; the toolkit waits until its own resolves.
HOST = "algo-1"


@pytest.fixture(scope="module")
def image() -> str:
    reference = os.environ.get("MODEL_IMAGE")
    if reference:
        return reference
    build = subprocess.run(
        [str(REPO_ROOT / "scripts" / "docker" / "container" / "build.sh"), "--env", "local", MODEL],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"build.sh failed:\n{build.stderr[-4000:]}", pytrace=False)
    return build.stdout.strip().splitlines()[-1]


def run_container(
    image: str,
    mounts: dict[Path, str],
    args: Sequence[str] = (),
    *,
    entrypoint: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """docker run with no network (jobs must not download anything), then hand the files back to the user."""
    command = [
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--hostname",
        HOST,
        "--add-host",
        f"{HOST}:127.0.0.1",
    ]
    for host_path, container_path in mounts.items():
        host_path.mkdir(parents=True, exist_ok=True)
        command += ["--volume", f"{host_path}:{container_path}"]
    if entrypoint:
        # SageMaker's ContainerEntrypoint replaces the image's entrypoint and command; cwd is not guaranteed.
        command += ["--entrypoint", entrypoint[0], "--workdir", "/"]
    command += [image, *entrypoint[1:], *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if os.getuid() != 0:
        for host_path in mounts:
            subprocess.run(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--volume",
                    f"{host_path}:/data",
                    "--entrypoint",
                    "chown",
                    image,
                    "-R",
                    f"{os.getuid()}:{os.getgid()}",
                    "/data",
                ],
                capture_output=True,
                check=True,
                timeout=120,
            )
    return result


def processing_job(
    image: str, job: str, inputs: dict[str, Path], outputs: dict[str, Path], args: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    mounts = {path: f"{PROCESSING}/input/{name}" for name, path in inputs.items()}
    mounts |= {path: f"{PROCESSING}/output/{name}" for name, path in outputs.items()}
    return run_container(image, mounts, args, entrypoint=["python3", "-m", f"jobs.{job}"])


def training_mounts(base: Path) -> dict[Path, str]:
    # SageMaker mounts these folders, never /opt/ml itself: the image's /opt/ml/code stays visible.
    return {base / name: f"/opt/ml/{name}" for name in ("input", "model", "output", "checkpoints")}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image")


@pytest.fixture(scope="module")
def split_dirs(image: str, workspace: Path, raw_frame: pd.DataFrame) -> dict[str, Path]:
    write_csv(raw_frame, workspace / "raw" / "raw.csv")
    outputs = {name: workspace / "splits" / name for name in ("train", "validation", "test")}
    result = processing_job(image, "preprocess", {"raw": workspace / "raw"}, outputs, ["--seed", "42"])
    assert result.returncode == 0, result.stderr
    return outputs


@pytest.fixture(scope="module")
def model_dir(image: str, workspace: Path, split_dirs: dict[str, Path]) -> Path:
    """Trains with the image's default command and archives the model folder as SageMaker would."""
    channels = {name: pd.read_csv(split_dirs[name] / f"{name}.csv") for name in ("train", "validation")}
    base = training_tree(
        workspace / "training",
        channels=channels,
        host=HOST,
        hyperparameters={"n_estimators": 40, "checkpoint_interval": 20},
    )
    result = run_container(image, training_mounts(base))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "validation_roc_auc=" in result.stdout + result.stderr
    archive_dir = workspace / "model_archive"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / "model.tar.gz", "w:gz") as tar:
        for path in (base / "model").iterdir():
            tar.add(path, arcname=path.name)
    return base


def test_image_defaults_match_the_training_contract(image: str) -> None:
    config = json.loads(
        subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, text=True, check=True
        ).stdout
    )[0]["Config"]
    assert config["Cmd"] == ["train"]
    assert "SAGEMAKER_PROGRAM=jobs/training.py" in config["Env"]
    listing = run_container(
        image, {}, ["-c", "ls /opt/ml/code; command -v gcc cc || echo no-compiler"], entrypoint=["sh"]
    )
    assert listing.stdout.split() == ["jobs", "utils", "no-compiler"]


def test_preprocess_writes_splits(split_dirs: dict[str, Path]) -> None:
    sizes = {name: len(pd.read_csv(folder / f"{name}.csv")) for name, folder in split_dirs.items()}
    assert sizes == {"train": 397, "validation": 86, "test": 86}


def test_training_saves_model_and_checkpoints(model_dir: Path) -> None:
    assert (model_dir / "model" / "model.joblib").is_file()
    assert (model_dir / "checkpoints" / "checkpoint.joblib").is_file()
    assert not (model_dir / "output" / "failure").exists()


def test_training_failure_reason_lands_in_failure_file(
    image: str, tmp_path: Path, raw_frame: pd.DataFrame
) -> None:
    base = training_tree(tmp_path / "opt_ml", channels={"train": raw_frame}, host=HOST)
    result = run_container(image, training_mounts(base), ["train"])
    assert result.returncode != 0
    failure = (base / "output" / "failure").read_text(encoding="utf-8")
    assert "input channel 'validation' was not given" in failure


def test_evaluation_writes_report_and_plots(
    image: str, workspace: Path, model_dir: Path, split_dirs: dict[str, Path]
) -> None:
    output = workspace / "report"
    result = processing_job(
        image,
        "evaluation",
        {"model": workspace / "model_archive", "test": split_dirs["test"]},
        {"report": output},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((output / "evaluation.json").read_text(encoding="utf-8"))
    assert report["binary_classification_metrics"]["roc_auc"]["value"] > 0.95
    assert {path.name for path in output.iterdir()} == {
        "evaluation.json",
        "roc_curve.png",
        "confusion_matrix.png",
    }


def test_inference_scores_every_row(
    image: str, workspace: Path, model_dir: Path, raw_frame: pd.DataFrame
) -> None:
    write_csv(raw_frame.drop(columns=[LABEL_COLUMN]), workspace / "to_score" / "batch.csv")
    output = workspace / "predictions"
    result = processing_job(
        image,
        "inference",
        {"model": workspace / "model_archive", "data": workspace / "to_score"},
        {"predictions": output},
        ["--threshold", "0.5"],
    )
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(output / "batch.csv")
    # CSV has no types: ids written as text may read back as numbers.
    assert predictions[ID_COLUMN].astype(str).tolist() == raw_frame[ID_COLUMN].astype(str).tolist()
    assert (predictions["prediction"] == raw_frame[LABEL_COLUMN]).mean() > 0.9


def test_processing_job_on_bad_input_exits_non_zero_with_reason(image: str, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "raw.csv").write_text("id,label\n1,0\n", encoding="utf-8")
    result = processing_job(image, "preprocess", {"raw": tmp_path / "raw"}, {"train": tmp_path / "train"})
    assert result.returncode == 1
    assert "missing column(s): mean_radius" in result.stderr
