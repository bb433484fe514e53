"""Training job, started by the SageMaker training toolkit (`train`, SAGEMAKER_PROGRAM=jobs/training.py).

Hyperparameters (all optional): see utils.hyperparameters.Hyperparameters.
Channels: train and validation (SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION), CSV files in the split schema.
Writes the model to SM_MODEL_DIR, checkpoints to /opt/ml/checkpoints when that folder exists (a job with a
checkpoint configuration), metrics to the log as `name=value;` pairs, and the reason of a failure to
/opt/ml/output/failure.

On several hosts (`instance_count` above 1; SM_HOSTS, SM_CURRENT_HOST) every host reads and checks its share
of the channels; the leader (utils.cluster) trains and writes the model, the others wait for it to finish.
This model does not train data-parallel: with ShardedByS3Key inputs the leader learns from its own share.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from utils.cluster import Cluster, together
from utils.data import read_csv_folder
from utils.errors import MissingInputError
from utils.features import feature_frame, label_array
from utils.hyperparameters import Hyperparameters, parse_hyperparameters
from utils.job import failure_file, format_metrics, opt_ml, run_job
from utils.schema import validate

if TYPE_CHECKING:
    from sklearn.ensemble import GradientBoostingClassifier

CHANNELS = ("train", "validation")


def channel_dir(name: str) -> Path:
    variable = f"SM_CHANNEL_{name.upper()}"
    value = os.environ.get(variable)
    if not value:
        raise MissingInputError(
            f"input channel '{name}' was not given to the training job ({variable} is unset)"
        )
    return Path(value)


def model_dir() -> Path:
    return Path(os.environ.get("SM_MODEL_DIR", str(opt_ml() / "model")))


def checkpoint_dir() -> Path | None:
    folder = opt_ml() / "checkpoints"
    return folder if folder.is_dir() else None


def run(argv: Sequence[str]) -> None:
    hyperparameters = parse_hyperparameters(argv)
    cluster = Cluster.from_environment()
    print(f"hyperparameters: {hyperparameters}; {cluster.describe()}", flush=True)
    with together(cluster):
        folders = {name: channel_dir(name) for name in CHANNELS}
        train = validate(read_csv_folder(folders["train"]))
        validation = validate(read_csv_folder(folders["validation"]))
        if cluster.is_leader:
            fit_and_save(train, validation, hyperparameters)
        else:
            print(
                f"{len(train)} training rows checked; {cluster.leader} trains and writes the model",
                flush=True,
            )


def fit_and_save(train: pd.DataFrame, validation: pd.DataFrame, hyperparameters: Hyperparameters) -> None:
    # scikit-learn loads here, on the host that trains and once its inputs are checked: a job given a bad
    # input, and the hosts that only wait for the leader, never spend the seconds it takes to import.
    from utils.metrics import classification_metrics
    from utils.model import positive_probabilities, save_model, train_in_stages

    train_features, train_labels = feature_frame(train), label_array(train)
    validation_features, validation_labels = feature_frame(validation), label_array(validation)

    def report_stage(model: GradientBoostingClassifier) -> None:
        stage = {
            "train_log_loss": classification_metrics(
                train_labels, positive_probabilities(model, train_features)
            )["log_loss"],
            "validation_log_loss": classification_metrics(
                validation_labels, positive_probabilities(model, validation_features)
            )["log_loss"],
        }
        print(f"n_estimators={model.n_estimators}; {format_metrics(stage)}", flush=True)

    model = train_in_stages(
        train_features, train_labels, hyperparameters, checkpoint_dir=checkpoint_dir(), on_stage=report_stage
    )
    metrics = classification_metrics(validation_labels, positive_probabilities(model, validation_features))
    print(format_metrics(metrics, prefix="validation_"), flush=True)
    path = save_model(model, model_dir(), hyperparameters=hyperparameters, metrics=metrics)
    print(f"saved model to {path}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(run, argv, failure_path=failure_file())


if __name__ == "__main__":
    sys.exit(main())
