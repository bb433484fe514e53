"""Each job's entry point on a fake /opt/ml tree, as SageMaker lays it out; training runs through the real
toolkit `train` command. No Docker: SAGEMAKER_BASE_DIR relocates /opt/ml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest
from fake_opt_ml import copy_code, free_port, training_tree

from jobs import evaluation, inference, preprocess
from utils.data import Splits, write_csv
from utils.features import feature_frame, label_array
from utils.hyperparameters import Hyperparameters
from utils.model import save_model, train_in_stages
from utils.schema import ID_COLUMN, LABEL_COLUMN

TRAIN_COMMAND = Path(sys.executable).with_name("train")


@pytest.fixture
def opt_ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "opt_ml"
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(base))
    return base


@pytest.fixture(scope="module")
def model_archive(splits: Splits, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model.tar.gz laid out as SageMaker uploads the training job's /opt/ml/model."""
    hyperparameters = Hyperparameters(n_estimators=20, checkpoint_interval=20)
    model = train_in_stages(feature_frame(splits.train), label_array(splits.train), hyperparameters)
    model_dir = save_model(
        model, tmp_path_factory.mktemp("model"), hyperparameters=hyperparameters, metrics={}
    ).parent
    archive = tmp_path_factory.mktemp("archive") / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in model_dir.iterdir():
            tar.add(path, arcname=path.name)
    return archive


def _place_model(archive: Path, base: Path) -> None:
    folder = base / "processing" / "input" / "model"
    folder.mkdir(parents=True)
    (folder / "model.tar.gz").write_bytes(archive.read_bytes())


def test_preprocess_writes_three_splits(opt_ml: Path, raw_frame: pd.DataFrame) -> None:
    write_csv(raw_frame, opt_ml / "processing" / "input" / "raw" / "export.csv")
    assert preprocess.main(["--train-ratio", "0.6", "--validation-ratio", "0.2", "--test-ratio", "0.2"]) == 0
    sizes = {
        name: len(pd.read_csv(opt_ml / "processing" / "output" / name / f"{name}.csv"))
        for name in ("train", "validation", "test")
    }
    assert sizes == {"train": 341, "validation": 114, "test": 114}


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        (None, [], "raw does not exist"),
        ("id,mean_radius\n1,2\n", [], "missing column"),
        ('x\n"unterminated\n', [], "not a readable CSV"),
        ("", ["--seed", "seven"], "invalid int value"),
    ],
)
def test_preprocess_refuses_bad_input(
    opt_ml: Path, capsys: pytest.CaptureFixture[str], content: str | None, argv: list[str], message: str
) -> None:
    if content is not None:
        folder = opt_ml / "processing" / "input" / "raw"
        folder.mkdir(parents=True)
        (folder / "raw.csv").write_text(content, encoding="utf-8")
    assert preprocess.main(argv) == 1
    assert message in capsys.readouterr().err


def _train(base: Path, code: Path | None = None) -> subprocess.CompletedProcess[str]:
    copy_code(code or base / "code")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SAGEMAKER_PROGRAM": "jobs/training.py"}
    return subprocess.run(
        [str(TRAIN_COMMAND)], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _channels(splits: Splits, *names: str) -> Mapping[str, pd.DataFrame]:
    return {name: getattr(splits, name) for name in names}


def test_toolkit_trains_saves_model_reports_metrics_and_checkpoints(tmp_path: Path, splits: Splits) -> None:
    base = training_tree(
        tmp_path / "opt_ml",
        channels=_channels(splits, "train", "validation"),
        hyperparameters={"n_estimators": 30, "checkpoint_interval": 15, "resume_from_checkpoint": True},
    )
    (base / "checkpoints").mkdir()
    result = _train(base)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (base / "model" / "model.joblib").is_file()
    assert json.loads((base / "model" / "metadata.json").read_text())["hyperparameters"]["n_estimators"] == 30
    assert (base / "checkpoints" / "checkpoint.joblib").is_file()
    log = result.stdout + result.stderr
    assert "n_estimators=15; train_log_loss=" in log
    roc_auc = float(log.split("validation_roc_auc=")[-1].split(";")[0])
    assert roc_auc > 0.95
    assert not (base / "output" / "failure").exists()


@pytest.mark.parametrize(
    ("channels", "hyperparameters", "reason"),
    [
        (("train",), {}, "input channel 'validation' was not given"),
        (("train", "validation"), {"resume_from_checkpoint": "perhaps"}, "not a boolean"),
    ],
)
def test_toolkit_training_failure_is_reported_in_the_failure_file(
    tmp_path: Path, splits: Splits, channels: tuple[str, ...], hyperparameters: dict[str, object], reason: str
) -> None:
    base = training_tree(
        tmp_path / "opt_ml", channels=_channels(splits, *channels), hyperparameters=hyperparameters
    )
    result = _train(base)
    assert result.returncode != 0
    assert reason in (base / "output" / "failure").read_text(encoding="utf-8")
    assert not (base / "model" / "model.joblib").exists()


def test_on_two_hosts_only_the_leader_writes_the_model_and_both_end_well(
    tmp_path: Path, splits: Splits
) -> None:
    hosts = ["127.0.0.1", "localhost"]  # two names of this machine, as algo-1 and algo-2; the first leads
    channels = _channels(splits, "train", "validation")
    trees = {
        host: training_tree(
            tmp_path / host, channels=channels, hyperparameters={"n_estimators": 20}, host=host, hosts=hosts
        )
        for host in hosts
    }
    port = free_port()
    started = {}
    for host, base in trees.items():
        copy_code(base / "code")
        env = {
            **os.environ,
            "SAGEMAKER_BASE_DIR": str(base),
            "SAGEMAKER_PROGRAM": "jobs/training.py",
            "TRAINING_CLUSTER_PORT": str(port),
        }
        started[host] = subprocess.Popen(
            [str(TRAIN_COMMAND)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    logs = {host: process.communicate(timeout=300)[0] for host, process in started.items()}

    assert {host: process.returncode for host, process in started.items()} == {host: 0 for host in hosts}, (
        logs
    )
    leader, follower = trees["127.0.0.1"], trees["localhost"]
    assert (leader / "model" / "model.joblib").is_file()
    assert not any((follower / "model").iterdir())
    assert "validation_roc_auc=" in logs["127.0.0.1"]
    assert "127.0.0.1 trains and writes the model" in logs["localhost"]


def test_training_refuses_a_malformed_channel(tmp_path: Path, splits: Splits) -> None:
    broken = splits.validation.drop(columns=[LABEL_COLUMN])
    base = training_tree(tmp_path / "opt_ml", channels={"train": splits.train, "validation": broken})
    result = _train(base)
    assert result.returncode != 0
    assert "missing column(s): label" in (base / "output" / "failure").read_text(encoding="utf-8")


def test_evaluation_writes_report_and_plots(opt_ml: Path, splits: Splits, model_archive: Path) -> None:
    _place_model(model_archive, opt_ml)
    write_csv(splits.test, opt_ml / "processing" / "input" / "test" / "test.csv")
    assert evaluation.main(["--threshold", "0.4"]) == 0
    output = opt_ml / "processing" / "output" / "report"
    report = json.loads((output / "evaluation.json").read_text(encoding="utf-8"))
    assert report["threshold"] == 0.4 and report["samples"] == len(splits.test)
    assert report["binary_classification_metrics"]["roc_auc"]["value"] > 0.95
    for plot in ("roc_curve.png", "confusion_matrix.png"):
        assert (output / plot).read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("with_model", "argv", "message"),
    [
        (False, [], "no model.tar.gz or model.joblib"),
        (True, ["--threshold", "1.5"], "not between 0 and 1"),
        (True, [], "test does not exist"),
    ],
)
def test_evaluation_refuses_bad_input(
    opt_ml: Path,
    model_archive: Path,
    capsys: pytest.CaptureFixture[str],
    with_model: bool,
    argv: list[str],
    message: str,
) -> None:
    if with_model:
        _place_model(model_archive, opt_ml)
    assert evaluation.main(argv) == 1
    assert message in capsys.readouterr().err


def test_inference_keeps_ids_for_every_input_file(
    opt_ml: Path, raw_frame: pd.DataFrame, model_archive: Path
) -> None:
    _place_model(model_archive, opt_ml)
    unlabelled = raw_frame.drop(columns=[LABEL_COLUMN])
    write_csv(unlabelled.iloc[:300], opt_ml / "processing" / "input" / "data" / "part-a.csv")
    write_csv(unlabelled.iloc[300:], opt_ml / "processing" / "input" / "data" / "part-b.csv")
    assert inference.main([]) == 0
    output = opt_ml / "processing" / "output" / "predictions"
    part_a = pd.read_csv(output / "part-a.csv", dtype={ID_COLUMN: str})
    assert list(part_a.columns) == [ID_COLUMN, "probability", "prediction"]
    assert part_a[ID_COLUMN].tolist() == unlabelled[ID_COLUMN].iloc[:300].tolist()
    assert len(pd.read_csv(output / "part-b.csv")) == 269
    agreement = (part_a["prediction"] == raw_frame[LABEL_COLUMN].iloc[:300]).mean()
    assert agreement > 0.9


def test_inference_names_the_malformed_file(
    opt_ml: Path, raw_frame: pd.DataFrame, model_archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _place_model(model_archive, opt_ml)
    write_csv(raw_frame.drop(columns=["worst_area"]), opt_ml / "processing" / "input" / "data" / "bad.csv")
    assert inference.main([]) == 1
    assert "bad.csv: missing column(s): worst_area" in capsys.readouterr().err
