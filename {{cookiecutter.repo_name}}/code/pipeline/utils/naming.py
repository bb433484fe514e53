"""Naming rules for the values this repository hands to AWS and to Python: region, account id, role ARN,
bucket, key prefix, ECR repository prefix and model name.

This is the only copy of these rules. `utils.config_reader` checks every `configs/<env>.yaml` with them, shell
scripts ask the command line below, and the template this repository was generated from loads this file to
check its answers before it writes anything. So it imports only the standard library, needs no package
around it and runs on any Python from 3.9 (the system python3 of macOS) on.

Each `check_*` function returns None for a valid value, or what is wrong as a phrase that follows the value
("must be exactly 12 digits"). The command line exits 1 and prints that phrase when a value breaks its rule:

    python3 code/pipeline/utils/naming.py model-name churn_v2
    python3 code/pipeline/utils/naming.py region eu-west-1
"""

from __future__ import annotations

import argparse
import ipaddress
import keyword
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Partition:
    """An AWS partition: its ARN name, the domain of its service endpoints and its region code areas."""

    name: str
    dns_suffix: str
    areas: tuple[str, ...]


# As botocore's partitions.json lists them (regionRegex and dnsSuffix of each partition).
PARTITIONS: tuple[Partition, ...] = (
    Partition("aws", "amazonaws.com", ("us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx")),
    Partition("aws-cn", "amazonaws.com.cn", ("cn",)),
    Partition("aws-us-gov", "amazonaws.com", ("us-gov",)),
    Partition("aws-iso", "c2s.ic.gov", ("us-iso",)),
    Partition("aws-iso-b", "sc2s.sgov.gov", ("us-isob",)),
    Partition("aws-iso-e", "cloud.adc-e.uk", ("eu-isoe",)),
    Partition("aws-iso-f", "csp.hci.ic.gov", ("us-isof",)),
    Partition("aws-eusc", "amazonaws.eu", ("eusc-de",)),
)
REGION_AREAS: tuple[str, ...] = tuple(area for partition in PARTITIONS for area in partition.areas)
REGION_DIRECTIONS: tuple[str, ...] = (
    "north",
    "northeast",
    "east",
    "southeast",
    "south",
    "southwest",
    "west",
    "northwest",
    "central",
)

# A rule: None for a valid value, else what is wrong with it. (Quoted: a macOS python3 may be 3.9.)
Check = Callable[[str], "str | None"]

RESERVED_MODEL_NAMES = {"pipeline": "the pipeline image is pushed as <ECR repository prefix>/pipeline"}

# ASCII only and anchored with \Z (a "$" would let a trailing newline through): these values end up in
# hostnames, ARNs and paths.
REGION = re.compile(
    rf"^(?P<area>{'|'.join(map(re.escape, REGION_AREAS))})"
    rf"-(?P<direction>{'|'.join(REGION_DIRECTIONS)})-(?P<number>[1-9][0-9]?)\Z"
)
ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>[0-9]{12}):role/"
    r"(?P<path>(?:[\x21-\x7e]+/)?)(?P<name>[A-Za-z0-9+=,.@_-]{1,64})\Z"
)
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*\Z")
_ECR_SEGMENT = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*\Z")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


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


def check_region(value: str) -> str | None:
    """A region code `<area>-<direction>-<number>`, made of the words AWS names its regions with."""
    if REGION.match(value):
        return None
    rule = "must be an AWS region code <area>-<direction>-<number> such as eu-west-1 or us-east-2"
    mistake = _region_mistake(value)
    return f"{rule}: {mistake}" if mistake else rule


def _region_mistake(value: str) -> str | None:
    """What is wrong with a near miss, or None when the value is not even shaped like a region code."""
    if REGION.match(value.lower()):
        return f"region codes are lowercase ({value.lower()})"
    zone = re.match(r"^(?P<region>.+-[0-9]+)[a-z]\Z", value)
    if zone and REGION.match(zone["region"]):
        return f"{value} is an availability zone; its region is {zone['region']}"
    for area in sorted(REGION_AREAS, key=len, reverse=True):
        if value.startswith(f"{area}-"):
            rest = re.match(r"^(?P<direction>[a-z-]+)-(?P<number>[0-9]+)\Z", value[len(area) + 1 :])
            if not rest:
                return None
            if rest["direction"] not in REGION_DIRECTIONS:
                return f"{rest['direction']!r} is not a direction (one of {', '.join(REGION_DIRECTIONS)})"
            return f"{rest['number']!r} is not a region number (1-99, no leading zero)"
    unknown = re.match(r"^(?P<area>[a-z]+)-[a-z]+-[0-9]+\Z", value)
    return f"{unknown['area']!r} is not a region area (one of {', '.join(REGION_AREAS)})" if unknown else None


def partition_of(region: str) -> Partition:
    """The partition that owns a valid region code; ARNs of its resources must name it."""
    match = REGION.match(region)
    if not match:
        raise ValueError(f"{region!r} {check_region(region)}")
    return next(partition for partition in PARTITIONS if match["area"] in partition.areas)


def ecr_registry(account_id: str, region: str) -> str:
    """The host of an account's private ECR registry in a region."""
    return f"{account_id}.dkr.ecr.{region}.{partition_of(region).dns_suffix}"


def check_account_id(value: str) -> str | None:
    if not ACCOUNT_ID.match(value):
        return "must be exactly 12 digits"
    return None


def check_role_arn(value: str) -> str | None:
    """The shape of an IAM role ARN; whether its account and partition fit is for the caller to check."""
    if not ROLE_ARN.match(value):
        return (
            "must be an IAM role ARN such as arn:aws:iam::123456789012:role/SageMakerExecutionRole "
            "(role names are 1-64 of letters, digits and +=,.@_-)"
        )
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
    """An S3 key prefix that every key this repository writes starts with."""
    segments = value.split("/")
    if not value or len(value) > 200 or not all(_PREFIX_SEGMENT.match(segment) for segment in segments):
        return (
            "must be 1-200 characters of '/'-separated segments made of letters, digits, '.', '_' and '-', "
            "with no leading, trailing or double '/' and no '.' or '..' segment"
        )
    return None


def check_ecr_prefix(value: str) -> str | None:
    """The namespace of this repository's ECR repositories (`<prefix>/<model>`, `<prefix>/pipeline`)."""
    segments = value.split("/")
    if not value or len(value) > 190 or not all(_ECR_SEGMENT.match(segment) for segment in segments):
        return (
            "must be '/'-separated segments of lowercase letters and digits, joined inside a segment by "
            "single '.', '_' or '-' (ECR repository naming rules), at most 190 characters"
        )
    return None


# Command line name -> (what the value is, in a sentence; its rule).
CHECKS: dict[str, tuple[str, Check]] = {
    "model-name": ("model name", check_model_name),
    "region": ("region", check_region),
    "account-id": ("account id", check_account_id),
    "role-arn": ("role ARN", check_role_arn),
    "bucket": ("bucket", check_bucket),
    "prefix": ("S3 prefix", check_prefix),
    "ecr-prefix": ("ECR repository prefix", check_ecr_prefix),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 code/pipeline/utils/naming.py",
        description="Check a value against this repository's naming rules: exit 1 and say why if not.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="RULE")
    for command, (what, _) in CHECKS.items():
        commands.add_parser(command, help=f"is VALUE a valid {what}?").add_argument("value", metavar="VALUE")
    args = parser.parse_args(argv)

    what, check = CHECKS[args.command]
    problem = check(args.value)
    if problem:
        print(f"{what} {args.value!r} {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
