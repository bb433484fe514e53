"""The SageMaker Model Registry of one model (dev and prod): the versions its pipeline registered into its
model package group, and a person's decision on each."""

from __future__ import annotations

from typing import Any

from utils.aws.session import EndpointSession
from utils.config_reader import Config
from utils.errors import PipelineError
from utils.registry import Decision, ModelVersion, unknown_version


def _version(described: dict[str, Any]) -> ModelVersion:
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    return ModelVersion(
        version=int(described["ModelPackageVersion"]),
        arn=str(described["ModelPackageArn"]),
        status=str(described["ModelApprovalStatus"]),
        created=described["CreationTime"],
        model_data=containers[0].get("ModelDataUrl") if containers else None,
        note=described.get("ApprovalDescription") or None,
    )


class SageMakerModelRegistry:
    """The model package group `<pipeline.name>-<model>` (the pipeline's name), through the SageMaker API."""

    def __init__(self, config: Config, group: str) -> None:
        self.group = group
        self.client = EndpointSession(config.aws.region, config.aws.endpoint_url).client("sagemaker")

    def versions(self) -> list[ModelVersion]:
        """Every version of the group, newest first."""
        from botocore.exceptions import ClientError

        try:
            self.client.describe_model_package_group(ModelPackageGroupName=self.group)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
                raise
            raise PipelineError(
                f"model package group {self.group} does not exist yet: "
                "`batches.pipeline upsert` creates it with the pipeline"
            ) from None
        arns: list[str] = []
        paginator = self.client.get_paginator("list_model_packages")
        for page in paginator.paginate(
            ModelPackageGroupName=self.group, SortBy="CreationTime", SortOrder="Descending"
        ):
            arns.extend(summary["ModelPackageArn"] for summary in page["ModelPackageSummaryList"])
        found = [_version(self.client.describe_model_package(ModelPackageName=arn)) for arn in arns]
        return sorted(found, key=lambda version: version.version, reverse=True)

    def decide(self, version: int, decision: Decision, note: str | None = None) -> ModelVersion:
        """Approve or reject one version; `note` is kept as its approval description."""
        versions = self.versions()
        chosen = next((v for v in versions if v.version == version), None)
        if chosen is None:
            raise unknown_version(self.group, version, versions)
        described = self.client.describe_model_package(ModelPackageName=chosen.arn)
        update: dict[str, Any] = {"ModelPackageArn": chosen.arn, "ModelApprovalStatus": decision}
        if note:
            update["ApprovalDescription"] = note
        if described.get("CustomerMetadataProperties"):  # kept as they are
            update["CustomerMetadataProperties"] = described["CustomerMetadataProperties"]
        self.client.update_model_package(**update)
        return _version(self.client.describe_model_package(ModelPackageName=chosen.arn))
