"""Refuse bad answers before cookiecutter writes anything.

The answers arrive as JSON data (rendered with ``tojson`` into a raw string), so quotes, backslashes, newlines or
shell syntax in an answer cannot change this program. Every rule is the real one of the service that will later
receive the value (S3, ECR, IAM, Python), so a render that passes here does not fail at deploy time.
"""

from __future__ import annotations

import ipaddress
import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping

# tojson escapes every ' so the raw triple-single-quoted string cannot be closed early by any answer.
ANSWERS: dict[str, object] = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
RESERVED_MODEL_NAMES = {"pipeline": "the pipeline image is pushed as <ecr_repository_prefix>/pipeline"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REPO_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_REGION = re.compile(r"^[a-z]{2,4}(?:-(?:gov|iso[a-z]?))?-[a-z]+-\d{1,2}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
_ECR_SEGMENT = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/"
    r"(?P<path>(?:[\x21-\x7e]+/)?)(?P<name>[\w+=,.@-]{1,64})$"
)
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def partition_of(region: str) -> str:
    """The AWS partition that owns a region; ARNs of its resources must name it."""
    for region_prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
    ):
        if region.startswith(region_prefix):
            return partition
    return "aws"


def check_text(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if _CONTROL.search(value):
        return "must be a single line of text (no newlines, tabs or other control characters)"
    if len(value) > 200:
        return "must be at most 200 characters"
    return None


def check_repo_name(value: str) -> str | None:
    if not value:
        return "must not be empty (it is derived from project_name: give a name with letters or digits)"
    if len(value) > 100 or not _REPO_NAME.match(value):
        return (
            "must be 1-100 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or "
            "digit (it names the folder, the Python projects and the default S3 bucket and ECR namespace)"
        )
    return None


def check_model_name(value: str) -> str | None:
    if len(value) > 64 or not _MODEL_NAME.match(value):
        return (
            "must be 1-64 lowercase letters, digits and single underscores, starting with a letter "
            "(it must be both a Python identifier and an ECR repository name segment)"
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return "must not be a Python keyword"
    if value in RESERVED_MODEL_NAMES:
        return f"is reserved: {RESERVED_MODEL_NAMES[value]}"
    return None


def check_python_version(value: str) -> str | None:
    if value not in PYTHON_VERSIONS:
        return f"must be one of {', '.join(PYTHON_VERSIONS)}"
    return None


def check_region(value: str) -> str | None:
    if not _REGION.match(value):
        return "must be an AWS region code such as ap-northeast-1, us-east-1 or eu-central-1"
    return None


def check_account_id(value: str) -> str | None:
    if not _ACCOUNT_ID.match(value):
        return "must be exactly 12 digits"
    return None


def check_bucket(value: str) -> str | None:
    """S3 general purpose bucket naming rules."""
    if not 3 <= len(value) <= 63:
        return f"must be 3-63 characters long (it has {len(value)}); S3 bucket naming rules"
    if not _BUCKET.match(value):
        return (
            "must use only lowercase letters, digits, '.' and '-', and start and end with a letter or digit; "
            "S3 bucket naming rules"
        )
    if ".." in value:
        return "must not contain two adjacent periods; S3 bucket naming rules"
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        pass
    else:
        return "must not be formatted as an IP address; S3 bucket naming rules"
    for prefix in _BUCKET_RESERVED_PREFIXES:
        if value.startswith(prefix):
            return f"must not start with the reserved prefix '{prefix}'; S3 bucket naming rules"
    for suffix in _BUCKET_RESERVED_SUFFIXES:
        if value.endswith(suffix):
            return f"must not end with the reserved suffix '{suffix}'; S3 bucket naming rules"
    return None


def check_prefix(value: str) -> str | None:
    segments = value.split("/")
    if not value or len(value) > 200 or not all(_PREFIX_SEGMENT.match(segment) for segment in segments):
        return (
            "must be 1-200 characters of '/'-separated segments made of letters, digits, '.', '_' and '-', "
            "with no leading, trailing or double '/' and no '.' or '..' segment"
        )
    return None


def check_ecr_prefix(value: str) -> str | None:
    if not value or len(value) > 190 or not all(_ECR_SEGMENT.match(segment) for segment in value.split("/")):
        return (
            "must be '/'-separated segments of lowercase letters and digits, joined inside a segment by single "
            "'.', '_' or '-' (ECR repository naming rules), at most 190 characters"
        )
    return None


def check_role_arn(value: str, answers: Mapping[str, object]) -> str | None:
    match = _ROLE_ARN.match(value)
    if not match:
        return (
            "must be an IAM role ARN such as arn:aws:iam::123456789012:role/SageMakerExecutionRole "
            "(role names are 1-64 of letters, digits and +=,.@_-)"
        )
    account, region = str(answers.get("aws_account_id", "")), str(answers.get("aws_region", ""))
    if _ACCOUNT_ID.match(account) and match["account"] != account:
        return f"must belong to aws_account_id {account}: SageMaker cannot run jobs as another account's role"
    expected_partition = partition_of(region)
    if _REGION.match(region) and match["partition"] != expected_partition:
        return f"must use the partition of region {region} ('arn:{expected_partition}:...')"
    return None


def check_yes_no(value: str) -> str | None:
    if value not in ("yes", "no"):
        return "must be 'yes' or 'no'"
    return None


SIMPLE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "project_name": check_text,
    "repo_name": check_repo_name,
    "model_name": check_model_name,
    "description": check_text,
    "author_name": check_text,
    "python_version": check_python_version,
    "aws_region": check_region,
    "aws_account_id": check_account_id,
    "s3_bucket": check_bucket,
    "s3_prefix": check_prefix,
    "ecr_repository_prefix": check_ecr_prefix,
    "include_github_actions": check_yes_no,
}


def validate(answers: Mapping[str, object]) -> list[str]:
    """Every problem with the answers, one readable line each: field, value and rule."""
    problems: list[str] = []
    checks: dict[str, Callable[[str], str | None]] = {
        **SIMPLE_CHECKS,
        "sagemaker_role_arn": lambda value: check_role_arn(value, answers),
    }
    for field, check in checks.items():
        if field not in answers:
            problems.append(f"{field} is missing from the answers")
            continue
        value = answers[field]
        problem = check(value) if isinstance(value, str) else "must be text"
        if problem:
            problems.append(f"{field}={json.dumps(value, ensure_ascii=False)} {problem}")
    return problems


def main() -> int:
    problems = validate(ANSWERS)
    if problems:
        print("The template was not rendered; fix these answers and run cookiecutter again:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
