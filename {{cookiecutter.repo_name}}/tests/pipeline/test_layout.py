"""Where every run of every stage lives, and how runs and jobs are named."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from utils.config_reader import CONFIG_DIR, ConfigError, load_config
from utils.db.enum import JobType
from utils.layout import Layout, job_name, new_run_id

DEV = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text(encoding="utf-8"))
BUCKET, PREFIX = DEV["storage"]["bucket"], DEV["storage"]["prefix"]
MODEL = next(iter(DEV["models"]))  # any model: the layout is the same for each
ROOT = f"s3://{BUCKET}/{PREFIX}/{MODEL}"


@pytest.fixture
def dev_layout() -> Layout:
    return Layout(load_config("dev", environ={}, model=MODEL))


def test_every_dev_location_follows_bucket_prefix_model_stage_run(dev_layout: Layout) -> None:
    collection = dev_layout.run(JobType.COLLECTION, "r1")
    preprocess = dev_layout.run(JobType.PREPROCESS, "r2")
    training = dev_layout.run(JobType.TRAINING, "r3")
    evaluation = dev_layout.run(JobType.EVALUATION, "r4")
    inference = dev_layout.run(JobType.INFERENCE, "r5")

    assert collection.raw_data == f"{ROOT}/collection/r1/raw/data.csv"
    assert preprocess.output("train") == f"{ROOT}/preprocess/r2/train"
    assert training.model_output == f"{ROOT}/training/r3/model"
    assert (
        training.model_artifact("job-1", local=False) == f"{ROOT}/training/r3/model/job-1/output/model.tar.gz"
    )
    assert training.checkpoints == f"{ROOT}/training/r3/checkpoints"
    assert evaluation.evaluation_report == f"{ROOT}/evaluation/r4/report/evaluation.json"
    assert inference.predictions_dir == f"{ROOT}/inference/r5/predictions"
    assert training.sdk_staging == f"{ROOT}/training/r3/sagemaker"
    assert training.bucket == BUCKET
    assert training.sdk_staging_key_prefix == f"{PREFIX}/{MODEL}/training/r3/sagemaker"


def test_a_local_batch_on_its_own_gets_a_run_folder_named_after_its_run_id(tmp_path: Path) -> None:
    layout = Layout(load_config("local", environ={"PIPELINE_RUNS_DIR": str(tmp_path)}, model=MODEL))

    training = layout.run(JobType.TRAINING, "r3")

    assert training.model_output == f"{tmp_path}/r3/training/model"
    assert training.model_artifact("ignored", local=True) == f"{tmp_path}/r3/training/model/model.tar.gz"
    assert training.local_container_root == f"{tmp_path}/r3/training/container-r3"
    assert training.bucket is None
    assert training.sdk_staging_key_prefix is None


def test_every_stage_of_a_local_lifecycle_shares_its_run_folder(tmp_path: Path) -> None:
    layout = Layout(
        load_config(
            "local",
            environ={"PIPELINE_RUNS_DIR": str(tmp_path), "PIPELINE_RUN_FOLDER": "life-1"},
            model=MODEL,
        )
    )

    collection = layout.run(JobType.COLLECTION, "r1")
    preprocess = layout.run(JobType.PREPROCESS, "r2")
    training = layout.run(JobType.TRAINING, "r3")
    evaluation = layout.run(JobType.EVALUATION, "r4")
    inference = layout.run(JobType.INFERENCE, "r5")

    assert collection.raw_data == f"{tmp_path}/life-1/collection/raw/data.csv"
    assert preprocess.output("train") == f"{tmp_path}/life-1/preprocess/train"
    assert training.model_artifact("ignored", local=True) == f"{tmp_path}/life-1/training/model/model.tar.gz"
    assert evaluation.evaluation_report == f"{tmp_path}/life-1/evaluation/report/evaluation.json"
    assert inference.predictions_dir == f"{tmp_path}/life-1/inference/predictions"
    # Compose names its project after the container root: one per job, never shared by two jobs.
    roots = {run.local_container_root.rsplit("/", 1)[-1] for run in (preprocess, training, evaluation)}
    assert roots == {"container-r2", "container-r3", "container-r4"}


def test_the_run_folder_setting_leaves_the_s3_layout_alone() -> None:
    layout = Layout(load_config("dev", environ={"PIPELINE_RUN_FOLDER": "life-1"}, model=MODEL))

    assert layout.run(JobType.TRAINING, "r3").model_output == f"{ROOT}/training/r3/model"


def test_a_run_folder_name_must_be_safe_for_paths_and_compose() -> None:
    with pytest.raises(ConfigError, match="run_folder"):
        load_config("local", environ={"PIPELINE_RUN_FOLDER": "../elsewhere"})


def test_run_ids_sort_by_time_and_never_repeat() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    ids = {new_run_id(moment) for _ in range(200)}

    assert len(ids) == 200
    assert all(re.fullmatch(r"20260102-030405-[0-9a-f]{6}", run_id) for run_id in ids)
    assert new_run_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)) > max(ids)


@pytest.mark.parametrize("job_type", list(JobType))
def test_job_names_are_valid_sagemaker_names_even_for_long_model_names(job_type: JobType) -> None:
    run_id = new_run_id()

    name = job_name("a_very_long_model_name_" * 4, job_type, run_id)
    limit = 63 - 15 if job_type is JobType.TRAINING else 63

    assert len(name) <= limit
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name)
    assert name.endswith(run_id.rsplit("-", 1)[-1])


def test_two_runs_of_one_stage_never_share_a_location(dev_layout: Layout) -> None:
    first = dev_layout.run(JobType.TRAINING, new_run_id())
    second = dev_layout.run(JobType.TRAINING, new_run_id())

    assert first.root != second.root
    assert dev_layout.job_name(JobType.TRAINING, first.run_id) != dev_layout.job_name(
        JobType.TRAINING, second.run_id
    )
