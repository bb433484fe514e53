"""Upload, download, list and copy objects, on S3 (or any `AWS_ENDPOINT_URL`) or in a local folder.

A location is either `s3://bucket/key` or a local path; local mode keeps every location a local path, so the
batches read and write the same way in every environment.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.config import Config as BotoConfig

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client as Boto3S3Client

RETRY_CONFIG = BotoConfig(
    retries={"max_attempts": 10, "mode": "adaptive"}, connect_timeout=10, read_timeout=60
)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise ValueError(f"not an S3 URI: {uri}")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {uri}")
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def join(base: str, *parts: str) -> str:
    """Join URI or path parts with single slashes."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p.strip("/"))])


class S3Client:
    def __init__(self, session: boto3.Session) -> None:
        self._s3: Boto3S3Client = session.client("s3", config=RETRY_CONFIG)

    def put_text(self, uri: str, text: str) -> str:
        if is_s3(uri):
            loc = S3Location.parse(uri)
            self._s3.put_object(Bucket=loc.bucket, Key=loc.key, Body=text.encode("utf-8"))
        else:
            path = Path(uri)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return uri

    def get_text(self, uri: str) -> str:
        if is_s3(uri):
            loc = S3Location.parse(uri)
            return self._s3.get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read().decode("utf-8")
        return Path(uri).read_text(encoding="utf-8")

    def upload(self, local_path: Path, uri: str) -> str:
        if is_s3(uri):
            loc = S3Location.parse(uri)
            self._s3.upload_file(str(local_path), loc.bucket, loc.key)
        else:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local_path, uri)
        return uri

    def download(self, uri: str, local_path: Path) -> Path:
        local_path.parent.mkdir(parents=True, exist_ok=True)
        if is_s3(uri):
            loc = S3Location.parse(uri)
            self._s3.download_file(loc.bucket, loc.key, str(local_path))
        else:
            shutil.copyfile(uri, local_path)
        return local_path

    def list(self, prefix_uri: str) -> list[str]:
        """Every object (or file) under a prefix (or folder), as full URIs (or paths), sorted."""
        if not is_s3(prefix_uri):
            root = Path(prefix_uri)
            return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        loc = S3Location.parse(prefix_uri)
        found: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=loc.key):
            found.extend(
                f"s3://{loc.bucket}/{obj['Key']}" for obj in page.get("Contents", []) if "Key" in obj
            )
        return sorted(found)

    def copy(self, source_uri: str, target_uri: str) -> str:
        if is_s3(source_uri) and is_s3(target_uri):
            src, dst = S3Location.parse(source_uri), S3Location.parse(target_uri)
            self._s3.copy({"Bucket": src.bucket, "Key": src.key}, dst.bucket, dst.key)
        elif is_s3(source_uri):
            self.download(source_uri, Path(target_uri))
        elif is_s3(target_uri):
            self.upload(Path(source_uri), target_uri)
        else:
            Path(target_uri).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_uri, target_uri)
        return target_uri

    def exists(self, uri: str) -> bool:
        if not is_s3(uri):
            return Path(uri).exists()
        loc = S3Location.parse(uri)
        return bool(self._s3.list_objects_v2(Bucket=loc.bucket, Prefix=loc.key, MaxKeys=1).get("KeyCount"))
