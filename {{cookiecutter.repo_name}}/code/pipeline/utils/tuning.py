"""A model's hyperparameter search, described once (`models.<model>.tuning`): the objective and the regex that
reads it from the training job's log, the ranges and the limits. SageMaker runs it as a hyperparameter tuning
job (`utils.aws.tuning`); locally, Optuna's ask/tell drives real local-mode training jobs over the same ranges
(`batches.tuning`). Pure data and the rules that check it against the training job; imports no AWS library.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from utils.config_reader import Config, ConfigError, RangeSettings
from utils.job_specs import TRAINING_METRICS
from utils.layout import sagemaker_name

if TYPE_CHECKING:
    import optuna

TUNING_JOB_NAME_MAX = 32  # SageMaker's limit for a hyperparameter tuning job name


@dataclass(frozen=True)
class SearchSpace:
    objective: str
    regex: str
    direction: Literal["maximize", "minimize"]
    strategy: str
    max_jobs: int
    max_parallel_jobs: int
    early_stopping: str
    ranges: dict[str, RangeSettings]

    @property
    def objective_type(self) -> str:
        return "Maximize" if self.direction == "maximize" else "Minimize"

    def better(self, value: float, than: float) -> bool:
        return value > than if self.direction == "maximize" else value < than


def search_space(config: Config, max_trials: int | None = None) -> SearchSpace:
    """The selected model's search, checked against its training job: the objective must be a metric the job
    logs and every range a hyperparameter it takes. `max_trials` caps the number of trials for one run."""
    block = f"models.{config.model_name}.tuning"
    tuning = config.jobs.tuning
    if tuning is None:
        raise ConfigError(f"{block}: no search configured in configs/{config.environment.value}.yaml")
    if tuning.objective not in TRAINING_METRICS:
        raise ConfigError(
            f"{block}.objective: {tuning.objective} is not a metric the training job logs "
            f"({', '.join(TRAINING_METRICS)})"
        )
    known = config.jobs.training.parameters
    unknown = sorted(set(tuning.ranges) - set(known))
    if unknown:
        raise ConfigError(
            f"{block}.ranges: {', '.join(unknown)} is not a hyperparameter of the training job "
            f"(models.{config.model_name}.training.parameters: {', '.join(sorted(known))})"
        )
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"--max-trials {max_trials}: at least 1")
    max_jobs = min(tuning.max_jobs, max_trials) if max_trials else tuning.max_jobs
    return SearchSpace(
        objective=tuning.objective,
        regex=TRAINING_METRICS[tuning.objective],
        direction=tuning.direction,
        strategy=tuning.strategy,
        max_jobs=max_jobs,
        max_parallel_jobs=min(tuning.max_parallel_jobs, max_jobs),
        early_stopping=tuning.early_stopping,
        ranges=dict(tuning.ranges),
    )


def tuning_job_name(model_name: str, now: datetime | None = None) -> str:
    """`<model>-<yymmddHHMMSS><4 hex>`, unique and within SageMaker's 32 characters (the SDK's default name
    has minute resolution, so two searches in one minute would collide)."""
    suffix = f"-{(now or datetime.now(UTC)):%y%m%d%H%M%S}{secrets.token_hex(2)}"
    return sagemaker_name(model_name, suffix, TUNING_JOB_NAME_MAX)


# The local search: Optuna's samplers for SageMaker's strategies.


def sampler(space: SearchSpace, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """Bayesian: TPE; Random: random; Grid: every combination of the (integer and categorical) ranges;
    Hyperband: TPE (SageMaker's Hyperband stops weak trials early, which a local search of a few trials does
    not need)."""
    import optuna

    if space.strategy == "Random":
        return optuna.samplers.RandomSampler(seed=seed)
    if space.strategy == "Grid":
        grid: dict[str, list[Any]] = {}
        for name, item in space.ranges.items():
            if item.type == "categorical":
                grid[name] = list(item.values or [])
            else:  # integer: Grid never holds a continuous range (the config refuses it)
                grid[name] = list(range(int(item.min or 0), int(item.max or 0) + 1))
        return optuna.samplers.GridSampler(grid, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, str | int | float]:
    """One trial's hyperparameters, drawn from the ranges."""
    chosen: dict[str, str | int | float] = {}
    for name, item in space.ranges.items():
        log = item.scaling == "Logarithmic"
        if item.type == "categorical":
            chosen[name] = trial.suggest_categorical(name, list(item.values or []))  # type: ignore[assignment]
        elif item.type == "integer":
            chosen[name] = trial.suggest_int(name, int(item.min or 0), int(item.max or 0), log=log)
        else:
            chosen[name] = trial.suggest_float(name, float(item.min or 0), float(item.max or 0), log=log)
    return chosen
