"""A model's hyperparameter search, described once (`models.<model>.tuning`): the objective and the regex that
reads it from the training job's log, the ranges and the limits. SageMaker runs it as a hyperparameter tuning
job (`utils.aws.tuning`); locally, Optuna's ask/tell (`local_search`) drives real local-mode training jobs
over the same ranges, as `batches.tuning` runs them and as a local pipeline run's tuning step
(`utils.aws.local_pipeline`). Imports no AWS library.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from utils.config_reader import Config, ConfigError, RangeSettings
from utils.job_specs import TRAINING_METRICS
from utils.layout import sagemaker_name

if TYPE_CHECKING:
    import optuna

TUNING_JOB_NAME_MAX = 32  # SageMaker's limit for a hyperparameter tuning job name

Chosen = dict[str, str | int | float]


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


def suggest(trial: optuna.Trial, space: SearchSpace) -> Chosen:
    """One trial's hyperparameters, drawn from the ranges."""
    chosen: Chosen = {}
    for name, item in space.ranges.items():
        log = item.scaling == "Logarithmic"
        if item.type == "categorical":
            chosen[name] = trial.suggest_categorical(name, list(item.values or []))  # type: ignore[assignment]
        elif item.type == "integer":
            chosen[name] = trial.suggest_int(name, int(item.min or 0), int(item.max or 0), log=log)
        else:
            chosen[name] = trial.suggest_float(name, float(item.min or 0), float(item.max or 0), log=log)
    return chosen


def shown(chosen: Chosen) -> str:
    """A trial's hyperparameters on one line, floats to four significant digits."""
    return ", ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in chosen.items()
    )


@dataclass(frozen=True)
class Trial:
    """One trial of a local search: its number, its hyperparameters and its objective value (None: it
    failed)."""

    number: int
    parameters: Chosen
    value: float | None


def local_search(
    space: SearchSpace,
    run_trial: Callable[[int, Chosen], float | None],
    on_start: Callable[[int, Chosen], None],
    on_end: Callable[[Trial], None],
    parallel: int | None = None,
) -> list[Trial]:
    """Optuna's ask/tell over the space: `run_trial(number, hyperparameters)` runs each of `max_jobs` trials
    and says its objective value (None: it failed), `parallel` (default: max_parallel_jobs) at a time; one at
    a time, the trials run in the calling thread, so that Ctrl-C stops the running one at once. Trials in the
    order they ended."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=space.direction, sampler=sampler(space))
    workers = parallel or space.max_parallel_jobs
    ended: list[Trial] = []

    def ask(number: int) -> tuple[optuna.Trial, Chosen]:
        trial = study.ask()
        chosen = suggest(trial, space)
        on_start(number, chosen)
        return trial, chosen

    def tell(trial: optuna.Trial, number: int, chosen: Chosen, value: float | None) -> None:
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, value)
        ended.append(Trial(number, chosen, value))
        on_end(ended[-1])

    if workers == 1:
        for number in range(1, space.max_jobs + 1):
            trial, chosen = ask(number)
            tell(trial, number, chosen, run_trial(number, chosen))
        return ended
    running: dict[Future[float | None], tuple[optuna.Trial, int, Chosen]] = {}
    asked = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while len(ended) < space.max_jobs:
            while len(running) < workers and asked < space.max_jobs:
                asked += 1
                trial, chosen = ask(asked)
                running[pool.submit(run_trial, asked, chosen)] = (trial, asked, chosen)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                trial, number, chosen = running.pop(future)
                tell(trial, number, chosen, future.result())
    return ended


def best_trial(space: SearchSpace, trials: list[Trial]) -> Trial | None:
    """The trial with the best objective value; the earliest of those that tie."""
    scored = [
        (trial.value, trial)
        for trial in sorted(trials, key=lambda item: item.number)
        if trial.value is not None
    ]
    best: tuple[float, Trial] | None = None
    for value, trial in scored:
        if best is None or space.better(value, best[0]):
            best = (value, trial)
    return best[1] if best else None
