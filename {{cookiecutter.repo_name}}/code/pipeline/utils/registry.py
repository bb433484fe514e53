"""A model's registry: the versions its SageMaker pipeline registered after the quality gate, and a person's
decision on each (Approved or Rejected; a new version waits as PendingManualApproval).

dev and prod: the SageMaker Model Registry, the model package group `<pipeline.name>-<model>`
(`utils.aws.registry`). local: the job database, where the local pipeline run registers its versions, since
SageMaker's local pipeline runner has no registration step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from utils.config_reader import Config
from utils.errors import RefusedError
from utils.workflow import pipeline_name

if TYPE_CHECKING:
    from utils.db import schema

Decision = Literal["Approved", "Rejected"]
PENDING_APPROVAL = "PendingManualApproval"


@dataclass(frozen=True)
class ModelVersion:
    version: int
    status: str
    created: datetime
    model_data: str | None
    note: str | None
    # SageMaker: the model package's ARN; local: None.
    arn: str | None = None
    metrics: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "arn": self.arn,
            "status": self.status,
            "created": self.created.isoformat(),
            "model_data": self.model_data,
            "metrics": self.metrics,
            "note": self.note,
        }


class ModelRegistry(Protocol):
    group: str

    def versions(self) -> list[ModelVersion]:
        """Every version, newest first."""
        ...

    def decide(self, version: int, decision: Decision, note: str | None = None) -> ModelVersion:
        """Approve or reject one version; `note` is kept with it."""
        ...


def latest_approved(registry: ModelRegistry) -> ModelVersion | None:
    return next((v for v in registry.versions() if v.status == "Approved"), None)


def unknown_version(group: str, version: int, versions: list[ModelVersion]) -> RefusedError:
    known = ", ".join(str(v.version) for v in versions) or "none yet"
    return RefusedError(f"{group} has no version {version} (versions: {known})")


class LocalModelRegistry:
    """The versions the local pipeline run registered, in the job database."""

    def __init__(self, config: Config, group: str) -> None:
        self.group = group
        self.model_name = config.model_name
        self.url = config.database.url

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from utils.db.db_adapter import DbAdapter

        db = DbAdapter(self.url)
        try:
            db.require_schema()
            return getattr(db, method)(*args, **kwargs)
        finally:
            db.close()

    def register(
        self, model_data: str, report: str | None, metrics: dict[str, Any], pipeline_execution: str
    ) -> ModelVersion:
        """A new version, waiting for a person's approval."""
        return _local(
            self._call(
                "add_model_version",
                model_name=self.model_name,
                status=PENDING_APPROVAL,
                model_data=model_data,
                report=report,
                metrics=metrics,
                pipeline_execution=pipeline_execution,
            )
        )

    def versions(self) -> list[ModelVersion]:
        return [_local(row) for row in self._call("model_versions", self.model_name)]

    def decide(self, version: int, decision: Decision, note: str | None = None) -> ModelVersion:
        decided = self._call("set_model_version_status", self.model_name, version, decision, note)
        if decided is None:
            raise unknown_version(self.group, version, self.versions())
        return _local(decided)


def _local(row: schema.ModelVersion) -> ModelVersion:
    return ModelVersion(
        version=row.version,
        status=row.status,
        created=row.created_at,
        model_data=row.model_data,
        note=row.note,
        metrics=dict(row.metrics),
    )


def model_registry(config: Config) -> ModelRegistry:
    """The selected model's registry in this environment."""
    if config.is_local:
        return LocalModelRegistry(config, pipeline_name(config))
    from utils.aws.registry import SageMakerModelRegistry

    return SageMakerModelRegistry(config, pipeline_name(config))
