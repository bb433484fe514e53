"""Whether a job image is in Amazon ECR: asked before a batch creates any SageMaker job or job record.

SageMaker accepts a job whose image was never pushed and fails it only minutes later, after the instances
started; asking ECR first turns that into an immediate error that names the push command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from utils import naming

if TYPE_CHECKING:
    import boto3

_DNS_SUFFIXES = "|".join(
    re.escape(suffix) for suffix in dict.fromkeys(p.dns_suffix for p in naming.PARTITIONS)
)
ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?:" + _DNS_SUFFIXES + ")$")
NOT_FOUND = {"ImageNotFoundException", "RepositoryNotFoundException"}


class ImageCheckError(Exception):
    """ECR could not be asked (credentials, network, permissions); the reason is worded for people."""


@dataclass(frozen=True)
class EcrImage:
    registry_id: str
    region: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, uri: str) -> EcrImage | None:
        """The ECR parts of `<account>.dkr.ecr.<region>.<domain>/<repository>:<tag>`; None elsewhere."""
        host, _, rest = uri.partition("/")
        match = ECR_HOST.match(host)
        repository, _, tag = rest.rpartition(":")
        if match is None or not repository or not tag:
            return None
        return cls(match["account"], match["region"], repository, tag)


def image_is_pushed(session: boto3.Session, image: EcrImage) -> bool:
    """True when the repository holds the tag; False when the image or the repository does not exist."""
    ecr = session.client("ecr", region_name=image.region)
    try:
        ecr.describe_images(
            registryId=image.registry_id,
            repositoryName=image.repository,
            imageIds=[{"imageTag": image.tag}],
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in NOT_FOUND:
            return False
        raise ImageCheckError(
            f"ECR did not answer whether {image.repository}:{image.tag} exists: {exc}"
        ) from None
    except BotoCoreError as exc:
        raise ImageCheckError(
            f"cannot ask ECR whether {image.repository}:{image.tag} exists: {exc}"
        ) from None
    return True
