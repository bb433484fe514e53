"""The naming rules shared by the config reader, the scripts and the template's answer checks."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from utils import naming
from utils.aws.ecr_client import EcrImage
from utils.config_reader import AwsSettings, ImageSettings, ModelName, StorageSettings

NAMING_FILE = Path(naming.__file__)
ACCOUNT = "210987654321"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _botocore_regions() -> list[tuple[str, str, str]]:
    """(region, partition, endpoint domain) of every region botocore knows, from its partitions.json."""
    document = json.loads(files("botocore").joinpath("data", "partitions.json").read_text(encoding="utf-8"))
    return [
        (region, partition["id"], partition["outputs"]["dnsSuffix"])
        for partition in document["partitions"]
        for region in partition["regions"]
        if not region.endswith("-global")
    ]


@pytest.mark.parametrize(("region", "partition", "dns_suffix"), _botocore_regions())
def test_every_region_botocore_knows_passes_in_its_partition(
    region: str, partition: str, dns_suffix: str
) -> None:
    assert naming.check_region(region) is None
    assert naming.partition_of(region).name == partition
    assert naming.partition_of(region).dns_suffix == dns_suffix


def test_the_image_check_reads_the_registry_of_every_partition() -> None:
    for region, _, _ in _botocore_regions():
        uri = f"{naming.ecr_registry(ACCOUNT, region)}/team/model:0123abc"
        assert EcrImage.parse(uri) == EcrImage(ACCOUNT, region, "team/model", "0123abc"), uri


@pytest.mark.parametrize(
    ("region", "reason"),
    [
        ("us-east-1a", "us-east-1a is an availability zone; its region is us-east-1"),
        ("eu-wset-1", "'wset' is not a direction"),
        ("ap-northest-1", "'northest' is not a direction"),
        ("mars-north-9", "'mars' is not a region area"),
        ("us-gov-wset-1", "'wset' is not a direction"),
        ("AP-SOUTHEAST-2", "region codes are lowercase (ap-southeast-2)"),
        ("us-east-0", "'0' is not a region number"),
        ("eu-west-01", "'01' is not a region number"),
        ("ap-north-east-1", "'north-east' is not a direction"),
    ],
)
def test_a_near_miss_region_names_what_is_wrong(region: str, reason: str) -> None:
    problem = naming.check_region(region)
    assert problem is not None
    assert problem.startswith("must be an AWS region code <area>-<direction>-<number>")
    assert reason in problem


@pytest.mark.parametrize("region", ["tokyo", "ap-northeast", "ap_northeast_1", "", "north-1", "us-gov-1"])
def test_a_value_not_shaped_like_a_region_gets_the_rule(region: str) -> None:
    assert naming.check_region(region) == (
        "must be an AWS region code <area>-<direction>-<number> such as eu-west-1 or us-east-2"
    )


def test_partition_of_refuses_what_is_not_a_region() -> None:
    with pytest.raises(ValueError, match="'eu-wset-1' must be an AWS region code"):
        naming.partition_of("eu-wset-1")


@pytest.mark.parametrize(
    ("region", "registry"),
    [
        ("ap-southeast-2", "111122223333.dkr.ecr.ap-southeast-2.amazonaws.com"),
        ("cn-northwest-1", "111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn"),
        ("us-gov-west-1", "111122223333.dkr.ecr.us-gov-west-1.amazonaws.com"),
        ("eu-isoe-west-1", "111122223333.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk"),
        ("us-isof-south-1", "111122223333.dkr.ecr.us-isof-south-1.csp.hci.ic.gov"),
    ],
)
def test_ecr_registry_uses_the_partitions_domain(region: str, registry: str) -> None:
    assert naming.ecr_registry("111122223333", region) == registry


@pytest.mark.parametrize(
    ("check", "value", "fragment"),
    [
        (naming.check_bucket, "ab", "3-63 characters"),
        (naming.check_bucket, "a" * 64, "3-63 characters"),
        (naming.check_bucket, "My-Bucket", "lowercase"),
        (naming.check_bucket, "my..bucket", "adjacent periods"),
        (naming.check_bucket, "192.168.5.4", "IP address"),
        (naming.check_bucket, "xn--bucket", "reserved prefix"),
        (naming.check_bucket, "sthree-bucket", "reserved prefix"),
        (naming.check_bucket, "bucket-s3alias", "reserved suffix"),
        (naming.check_bucket, "bucket--ol-s3", "reserved suffix"),
        (naming.check_bucket, "-bucket", "start and end"),
        (naming.check_account_id, "12345678901", "12 digits"),
        (naming.check_account_id, "12345678901a", "12 digits"),
        (naming.check_account_id, "\u0661" * 12, "12 digits"),  # a digit to regex \d, not to AWS
        (naming.check_account_id, "111122223333\n", "12 digits"),
        (naming.check_region, "us-east-1\n", "AWS region code"),
        (naming.check_model_name, "Model", "lowercase"),
        (naming.check_model_name, "my-model", "underscores"),
        (naming.check_model_name, "1model", "starting with a letter"),
        (naming.check_model_name, "my__model", "single underscores"),
        (naming.check_model_name, "model_", "underscores"),
        (naming.check_model_name, "m" * 65, "1-64"),
        (naming.check_model_name, "class", "keyword"),
        (naming.check_model_name, "match", "keyword"),
        (naming.check_model_name, "pipeline", "reserved"),
        (naming.check_model_name, "churn\n", "lowercase"),
        (naming.check_prefix, "/data", "leading"),
        (naming.check_prefix, "data/", "trailing"),
        (naming.check_prefix, "a//b", "double"),
        (naming.check_prefix, "a/../b", "'..'"),
        (naming.check_prefix, "a b", "letters"),
        (naming.check_ecr_prefix, "Team/Models", "lowercase"),
        (naming.check_ecr_prefix, "team//models", "segments"),
        (naming.check_ecr_prefix, "team-/models", "single"),
        (naming.check_role_arn, "arn:aws:iam::111122223333:user/someone", "IAM role ARN"),
        (naming.check_role_arn, "arn:aws:iam::111122223333:role/", "IAM role ARN"),
        (naming.check_role_arn, "arn:aws:iam::111122223333:role/" + "r" * 65, "IAM role ARN"),
        (naming.check_role_arn, "arn:aws:iam::111122223333:role/Rôle", "IAM role ARN"),
    ],
)
def test_each_rule_rejects_its_bad_value(check: naming.Check, value: str, fragment: str) -> None:
    problem = check(value)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (naming.check_bucket, "abc"),
        (naming.check_bucket, "my.bucket-01"),
        (naming.check_bucket, "a" * 63),
        (naming.check_account_id, "000000000000"),
        (naming.check_model_name, "churn"),
        (naming.check_model_name, "churn_v2"),
        (naming.check_model_name, "m"),
        (naming.check_prefix, "team-a/projects/churn"),
        (naming.check_prefix, "ml"),
        (naming.check_ecr_prefix, "team-a/ml.models"),
        (naming.check_role_arn, "arn:aws:iam::111122223333:role/TeamJobs"),
        (naming.check_role_arn, "arn:aws-cn:iam::111122223333:role/service-role/AmazonSageMaker-Execution"),
        (naming.check_role_arn, "arn:aws:iam::111122223333:role/a+b=c,d.e@f_g-h"),
    ],
)
def test_each_rule_accepts_valid_values(check: naming.Check, value: str) -> None:
    assert check(value) is None


@pytest.mark.parametrize(
    ("settings", "values", "message"),
    [
        (AwsSettings, {"region": "us-east-1a"}, "region\n  Value error, must be an AWS region code"),
        (
            AwsSettings,
            {"region": "eu-west-1", "account_id": "12"},
            "account_id\n  Value error, must be exactly",
        ),
        (AwsSettings, {"region": "eu-west-1", "role_arn": "arn:aws:iam::111122223333:user/me"}, "IAM role"),
        (StorageSettings, {"bucket": "Not_A_Bucket"}, "bucket\n  Value error, must use only lowercase"),
        (
            StorageSettings,
            {"bucket": "my-bucket", "prefix": "/team/"},
            "prefix\n  Value error, must be 1-200",
        ),
        (ImageSettings, {"registry": "localhost:5000", "repository_prefix": "Team"}, "ECR repository naming"),
    ],
)
def test_the_config_reader_refuses_what_the_rules_refuse(
    settings: type[BaseModel], values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings.model_validate(values)


def test_the_config_reader_accepts_what_the_rules_accept() -> None:
    assert AwsSettings(region="eusc-de-east-1", account_id="111122223333").region == "eusc-de-east-1"
    assert StorageSettings(bucket="my-bucket").prefix == ""
    assert StorageSettings(bucket="my-bucket", prefix="team-a/churn").prefix == "team-a/churn"
    assert TypeAdapter(ModelName).validate_python("churn_v2") == "churn_v2"
    with pytest.raises(ValidationError, match="must not be a Python keyword"):
        TypeAdapter(ModelName).validate_python("match")


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command line as the scripts run it, under an isolated Python without site-packages (-I -S), so it
    is shown to need nothing but the standard library."""
    command = [sys.executable, "-I", "-S", str(NAMING_FILE), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)


def test_the_command_line_accepts_a_valid_model_name_silently() -> None:
    result = _cli("model-name", "churn_v2")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        ("model-name", "Churn-V2", "model name 'Churn-V2' must be 1-64 lowercase letters"),
        ("model-name", "pipeline", "model name 'pipeline' is reserved"),
        ("region", "eu-wset-1", "region 'eu-wset-1' must be an AWS region code"),
        ("bucket", "Bad_Bucket", "bucket 'Bad_Bucket' must use only lowercase letters"),
        ("ecr-prefix", "Team", "ECR repository prefix 'Team' must be '/'-separated segments"),
    ],
)
def test_the_command_line_exits_1_with_the_rule(rule: str, value: str, message: str) -> None:
    result = _cli(rule, value)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message)


def test_the_command_line_refuses_an_unknown_rule_with_usage() -> None:
    result = _cli("colour", "blue")
    assert result.returncode == 2
    assert "model-name" in result.stderr


def test_the_module_form_works_from_the_pipeline_folder() -> None:
    pipeline_dir = NAMING_FILE.parents[1]
    command = [sys.executable, "-S", "-m", "utils.naming", "model-name", "1st"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=pipeline_dir)
    assert result.returncode == 1
    assert result.stderr.startswith("model name '1st' must be 1-64 lowercase letters")
