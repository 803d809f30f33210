"""deploy/Dockerfile and the image workflow: multi-stage, non-root, no build tools or curl in the
final image, pinned bases, and one published image per name the chart and compose use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
WORKFLOW = REPO / ".github" / "workflows" / "images.yml"


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split per FROM."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(stripped)
    return result


def build_args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE))


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def test_dockerfile_is_multi_stage_and_the_final_stage_only_copies_the_venv() -> None:
    all_stages = stages()
    assert len(all_stages) >= 3
    final = all_stages[-1]
    copies = [i for i in final if i.startswith("COPY")]
    assert copies == ["COPY --from=build /app/.venv /app/.venv"]
    assert not any("uv " in i or "/uv" in i for i in final)


def test_final_image_has_no_compilers_or_curl() -> None:
    final = " ".join(stages()[-1])
    for tool in ("gcc", "build-essential", "apt-get install", "apk add", "curl", "wget"):
        assert tool not in final, tool


def test_final_image_runs_as_a_numeric_non_root_user() -> None:
    users = [i.split()[1] for i in stages()[-1] if i.startswith("USER ")]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    # the chart's pods run as the same user
    values = yaml.safe_load((REPO / "charts" / "orders-saga" / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)


def test_healthcheck_uses_python_not_curl() -> None:
    [check] = [i for i in stages()[-1] if i.startswith("HEALTHCHECK")]
    assert '"python", "-c"' in check and "urllib.request" in check and "/healthz" in check


def test_base_images_are_pinned() -> None:
    args = build_args()
    for stage in stages():
        image = stage[0].split()[1]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        tag = image.rpartition(":")[2]
        assert tag and tag != "latest" and "/" not in tag, image
        assert re.search(r"\d", tag), f"{image}: tag without a version"


def test_dependencies_install_from_the_lock_without_dev_tools() -> None:
    syncs = [i for stage in stages() for i in stage if "uv sync" in i]
    assert len(syncs) == 2
    for sync in syncs:
        assert "--locked" in sync and "--no-dev" in sync and '--package "${PACKAGE}"' in sync
    assert "--no-editable" in syncs[-1]


def test_workflow_builds_every_image_for_amd64_and_arm64(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["build"]
    matrix = job["strategy"]["matrix"]["include"]
    [build] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("docker/build-push")]
    assert set(build["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["with"]["file"] == "deploy/Dockerfile"
    assert "PACKAGE=${{ matrix.package }}" in build["with"]["build-args"]
    assert "APP_FACTORY=${{ matrix.factory }}" in build["with"]["build-args"]
    members = {"orders", "delivery", "notifications", "simulator", "orders-saga"}
    assert {entry["package"] for entry in matrix} <= members
    for step in job["steps"]:
        if "uses" in step:
            assert "@" in step["uses"] and not step["uses"].endswith("@master"), step["uses"]
    [meta] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("docker/metadata")]
    assert "latest=false" in meta["with"]["flavor"]


def test_workflow_publishes_every_image_the_chart_uses(workflow: dict[str, Any]) -> None:
    import importlib

    matrix = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
    published = {entry["image"]: entry for entry in matrix}
    values = yaml.safe_load((REPO / "charts" / "orders-saga" / "values.yaml").read_text())
    used = {values[c]["image"] for c in ("orders", "delivery", "notifications", "actors")}
    used.add(values["refillStock"]["image"])
    assert used <= set(published)
    for entry in matrix:
        module, _, attribute = entry["factory"].partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), entry
