"""The AWS account of the tests: a local moto server, reset per test, with the configured bucket and image."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from utils import naming
from utils.aws.session import EndpointSession
from utils.config_reader import Config, load_config


def reset_moto(endpoint: str, patch: pytest.MonkeyPatch) -> Config:
    """Empty moto, point AWS_ENDPOINT_URL at it and create the configured bucket (as the account has)."""
    patch.setenv("AWS_ENDPOINT_URL", endpoint)
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - the local moto server
    config = load_config("dev")
    assert config.storage is not None
    s3 = EndpointSession(config.aws.region, endpoint).client("s3")
    s3.create_bucket(
        Bucket=config.storage.bucket, CreateBucketConfiguration={"LocationConstraint": config.aws.region}
    )
    push_image(config)
    return config


def push_image(config: Config) -> None:
    """What `scripts/docker/container/push.sh` leaves in ECR: the job image's repository and tag."""
    ecr = aws_client(config, "ecr")
    repository = f"{config.images.repository_prefix}/{config.model_name}"
    ecr.create_repository(repositoryName=repository)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=config.images.tag)


def tracking_server_arn(config: Config) -> str:
    """A SageMaker managed MLflow tracking server's ARN in the config's account, region and partition."""
    return (
        f"arn:{naming.partition_of(config.aws.region).name}:sagemaker:{config.aws.region}:"
        f"{config.aws.account_id}:mlflow-tracking-server/team"
    )


def root_uri(config: Config) -> str:
    assert config.storage is not None
    return f"s3://{config.storage.bucket}/{config.storage.prefix}/{config.model_name}"


def all_s3_uris(value: Any) -> list[str]:
    """Every string starting with s3:// anywhere inside a describe_* answer."""
    if isinstance(value, str):
        return [value] if value.startswith("s3://") else []
    if isinstance(value, dict):
        return [uri for item in value.values() for uri in all_s3_uris(item)]
    if isinstance(value, list):
        return [uri for item in value for uri in all_s3_uris(item)]
    return []


def assert_everything_under_the_prefix(config: Config) -> None:
    assert config.storage is not None
    s3 = aws_client(config, "s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert buckets == [config.storage.bucket]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=config.storage.bucket).get("Contents", [])]
    assert keys
    outside = [k for k in keys if not k.startswith(f"{config.storage.prefix}/{config.model_name}/")]
    assert outside == []


def aws_client(config: Config, service: str) -> Any:
    return EndpointSession(config.aws.region, config.aws.endpoint_url).client(service)
