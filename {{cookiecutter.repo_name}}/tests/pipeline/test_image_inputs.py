"""The one image tag rule: a digest of what an image is built from, the same in every clone and on every tool.

The copies below are made of this repository's own Dockerfiles, ignore file and model code, so the rule is
checked against the files a build really reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from utils import config_reader
from utils.config_reader import REPO_ROOT, load_config
from utils.image_inputs import CLOUD_PLATFORM, ImageKind, content_tag, default_base_image

pytestmark = pytest.mark.scripts  # reads scripts/docker, absent in the pipeline image

MODEL = next(iter(load_config("dev", environ={}).models))
IGNORED = shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")


def copy_of_the_build_inputs(target: Path) -> Path:
    for folder in ("scripts/docker", f"code/container/{MODEL}", f"tests/container/{MODEL}", "code/pipeline"):
        shutil.copytree(REPO_ROOT / folder, target / folder, ignore=IGNORED)
    shutil.copy2(REPO_ROOT / ".dockerignore", target / ".dockerignore")
    return target


def tag(
    repo: Path, *, base: str = "python:3-slim", platform: str = CLOUD_PLATFORM, target: str = "runtime"
) -> str:
    return content_tag(
        ImageKind.MODEL, MODEL, base_image=base, platform_name=platform, target=target, repo_root=repo
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_of_the_build_inputs(tmp_path / "clone")


def test_the_tag_is_twelve_hex_digits_and_the_same_in_another_clone(repo: Path, tmp_path: Path) -> None:
    other = copy_of_the_build_inputs(tmp_path / "somewhere" / "else")

    assert len(tag(repo)) == 12 and int(tag(repo), 16) >= 0
    assert tag(repo) == tag(other)


def test_files_the_image_does_not_copy_leave_the_tag_alone(repo: Path) -> None:
    before = tag(repo)
    code = repo / "code" / "container" / MODEL
    (code / "README.md").write_text("notes that never reach the image\n", encoding="utf-8")
    (code / "jobs" / ".env.local").write_text("DEBUG=1\n", encoding="utf-8")
    (code / "utils" / "__pycache__").mkdir(exist_ok=True)
    (code / "utils" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (repo / "tests" / "container" / MODEL / "test_extra.py").write_text(
        "def test_x(): ...\n", encoding="utf-8"
    )

    assert tag(repo) == before


@pytest.mark.parametrize(
    "edit",
    [
        "jobs/training.py",
        "utils/__init__.py",
        "poetry.lock",
        "pyproject.toml",
    ],
)
def test_every_file_the_image_copies_moves_the_tag(repo: Path, edit: str) -> None:
    before = tag(repo)
    path = repo / "code" / "container" / MODEL / edit
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")

    assert tag(repo) != before


def test_a_new_job_module_the_dockerfile_recipe_base_and_platform_each_move_the_tag(repo: Path) -> None:
    before = tag(repo)
    (repo / "code" / "container" / MODEL / "jobs" / "extra.py").write_text("VALUE = 1\n", encoding="utf-8")
    with_module = tag(repo)
    dockerfile = repo / "scripts" / "docker" / "container" / "Dockerfile"
    recipe = dockerfile.read_text(encoding="utf-8")
    dockerfile.write_text(
        recipe.replace("FROM ${BASE_IMAGE} AS runtime", "FROM ${BASE_IMAGE} AS runtime\nENV X=1")
    )

    tags = {
        before,
        with_module,
        tag(repo),
        tag(repo, base="registry.internal/python:3-slim"),
        tag(repo, platform="linux/arm64"),
    }
    assert len(tags) == 5


def test_the_test_stage_has_its_own_tag_and_test_edits_only_move_that_one(repo: Path) -> None:
    runtime, test = tag(repo), tag(repo, target="test")
    (repo / "tests" / "container" / MODEL / "test_extra.py").write_text(
        "def test_x(): ...\n", encoding="utf-8"
    )

    assert runtime != test
    assert tag(repo) == runtime
    assert tag(repo, target="test") != test


def test_model_and_pipeline_images_have_different_tags(repo: Path) -> None:
    pipeline = content_tag(
        ImageKind.PIPELINE, None, base_image="python:3-slim", platform_name=CLOUD_PLATFORM, repo_root=repo
    )

    assert pipeline != tag(repo)


def test_the_configs_give_the_rule_its_base_image_and_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMAGE_TAG", raising=False)
    dev = load_config("dev", environ={}, model=MODEL)
    mirrored = load_config("dev", environ={"BASE_IMAGE": "mirror.internal/python:3-slim"}, model=MODEL)

    assert dev.base_image() == default_base_image(ImageKind.MODEL)
    assert dev.image_platform == CLOUD_PLATFORM
    assert dev.image_tag() == content_tag(
        ImageKind.MODEL, MODEL, base_image=dev.base_image(), platform_name=CLOUD_PLATFORM
    )
    assert mirrored.base_image() == "mirror.internal/python:3-slim"
    assert mirrored.image_tag() != dev.image_tag()
    assert load_config("dev", environ={"IMAGE_TAG": "release-7"}, model=MODEL).image_tag() == "release-7"


def test_the_image_command_prints_what_the_image_scripts_need(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("IMAGE_TAG", "ECR_REGISTRY", "BASE_IMAGE"):
        monkeypatch.delenv(variable, raising=False)
    assert config_reader.main(["image", "--env", "prod", "--model", MODEL, "--platform", "linux/arm64"]) == 0
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    prod = load_config("prod", environ={}, model=MODEL)

    assert printed == {
        "reference": prod.image_uri(platform_name="linux/arm64"),
        "registry": prod.images.registry,
        "repository": f"{prod.images.repository_prefix}/{MODEL}",
        "tag": prod.image_tag(platform_name="linux/arm64"),
        "region": prod.aws.region,
        "base_image": prod.base_image(),
        "platform": "linux/arm64",
    }
    assert config_reader.main(["image", "--env", "dev", "--pipeline"]) == 0
    assert capsys.readouterr().out.startswith(f"reference={load_config('dev', environ={}).images.registry}/")


def test_the_image_command_refuses_an_unknown_model_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert config_reader.main(["image", "--env", "dev", "--model", "no_such_model"]) == 1
    error = capsys.readouterr().err

    assert error.count("\n") == 1 and "no settings for model 'no_such_model'" in error


def test_the_push_script_follows_an_edited_config_for_registry_prefix_and_region(tmp_path: Path) -> None:
    """The scripts hold no copy of these settings: edit the YAML and push.sh goes where it says."""
    repo = copy_of_the_build_inputs(tmp_path / "clone")
    shutil.copytree(REPO_ROOT / "scripts", repo / "scripts", dirs_exist_ok=True)
    (repo / "code" / "pipeline" / ".venv").symlink_to(REPO_ROOT / "code" / "pipeline" / ".venv")
    prod_file = repo / "code" / "pipeline" / "configs" / "prod.yaml"
    prod = yaml.safe_load(prod_file.read_text(encoding="utf-8"))
    region = "eu-central-1" if prod["aws"]["region"] != "eu-central-1" else "us-west-2"
    prod["aws"]["region"] = region
    prod["images"].update(registry="registry.example.internal:5000", repository_prefix="elsewhere/team")
    prod_file.write_text(yaml.safe_dump(prod, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"IMAGE_TAG", "ECR_REGISTRY", "BASE_IMAGE"}}

    result = subprocess.run(
        ["scripts/docker/container/push.sh", "--dry-run", "--env", "prod", MODEL],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    expected_tag = content_tag(
        ImageKind.MODEL,
        MODEL,
        base_image=default_base_image(ImageKind.MODEL),
        platform_name=CLOUD_PLATFORM,
        repo_root=repo,
    )
    assert result.stdout.strip() == f"registry.example.internal:5000/elsewhere/team/{MODEL}:{expected_tag}"
    assert f"--region {region} " in result.stderr
