"""deploy/Dockerfile, deploy/frontend.Dockerfile and the image workflow: multi-stage, non-root,
no build tools or curl in the final images, pinned bases, the browser app built once on the
build platform, and one published image per name the chart and compose use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
FRONTEND_DOCKERFILE = REPO / "deploy" / "frontend.Dockerfile"
FRONTEND_LOCK = REPO / "frontend" / "package-lock.json"
WORKFLOW = REPO / ".github" / "workflows" / "images.yml"


def stages(dockerfile: Path = DOCKERFILE) -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split per FROM."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
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


def build_args(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile.read_text(), re.MULTILINE))


def base_image(stage: list[str], dockerfile: Path) -> str:
    """The image a stage starts from, its ARG defaults substituted."""
    args = build_args(dockerfile)
    image = next(word for word in stage[0].split()[1:] if not word.startswith("--"))
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)


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


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, FRONTEND_DOCKERFILE], ids=lambda p: p.name)
def test_base_images_are_pinned(dockerfile: Path) -> None:
    for stage in stages(dockerfile):
        image = base_image(stage, dockerfile)
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
    assert build["with"]["file"] == "${{ matrix.dockerfile }}"
    assert "PACKAGE=${{ matrix.package }}" in build["with"]["build-args"]
    assert "APP_FACTORY=${{ matrix.factory }}" in build["with"]["build-args"]
    members = {"orders", "delivery", "notifications", "simulator", "orders-saga"}
    python_images = [entry for entry in matrix if entry["dockerfile"] == "deploy/Dockerfile"]
    assert {entry["package"] for entry in python_images} == members
    # the browser app: its own Dockerfile, which declares neither build argument
    [frontend] = [entry for entry in matrix if entry["image"] == "frontend"]
    assert frontend == {"image": "frontend", "dockerfile": "deploy/frontend.Dockerfile"}
    assert not {"PACKAGE", "APP_FACTORY"} & set(build_args(FRONTEND_DOCKERFILE))
    assert len(matrix) == len(python_images) + 1
    for entry in matrix:
        assert (REPO / entry["dockerfile"]).is_file(), entry
    triggers = workflow[True]["pull_request"]["paths"]  # YAML 1.1 reads the key `on` as True
    assert {"deploy/**", "frontend/**"} <= set(triggers)
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
    used |= {values["refillStock"]["image"], values["frontend"]["image"]}
    assert used <= set(published)
    assert published[values["frontend"]["image"]]["dockerfile"] == "deploy/frontend.Dockerfile"
    for entry in matrix:
        if "factory" not in entry:
            continue
        module, _, attribute = entry["factory"].partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), entry


# -- the browser app's image -------------------------------------------------------------------


def version(text: str) -> tuple[int, int, int]:
    major, minor, patch = [*(int(part) for part in text.lstrip("v").split(".")), 0, 0][:3]
    return major, minor, patch


def satisfies(node: tuple[int, int, int], node_range: str) -> bool:
    """Whether a Node version meets an npm `engines.node` range, in the forms the lock uses:
    alternatives joined by ||, each one or more of ^X.Y.Z, >=X.Y.Z, >X, <X, <=X or a bare X[.Y]
    (any version with that prefix)."""

    def meets(comparator: str) -> bool:
        match = re.fullmatch(r"(\^|>=|<=|>|<|=)?\s*(v?[\d.]+)", comparator)
        assert match, comparator
        operator, number = match.groups()
        wanted = version(number)
        if operator == "^":
            return node >= wanted and node[0] == wanted[0]
        if operator is None or operator == "=":
            given = number.lstrip("v").split(".")
            return list(node[: len(given)]) == [int(part) for part in given]
        return {">=": node >= wanted, ">": node > wanted, "<": node < wanted, "<=": node <= wanted}[
            operator
        ]

    for alternative in node_range.split("||"):
        comparators = re.findall(r"(?:\^|>=|<=|>|<|=)?\s*v?[\d.]+", alternative)
        if comparators and all(meets(c.strip()) for c in comparators):
            return True
    return False


def test_the_engine_range_reader_reads_the_lock_forms() -> None:
    assert satisfies((22, 14, 0), "^20.19.0 || >=22.12.0")
    assert not satisfies((22, 11, 0), "^20.19.0 || >=22.12.0")
    assert not satisfies((21, 0, 0), "^20.19.0 || >=22.12.0")
    assert satisfies((20, 19, 1), "^20.19.0 || >=22.12.0")
    assert satisfies((20, 5, 0), "20 || >=22")
    assert not satisfies((21, 5, 0), "20 || >=22")
    assert satisfies((22, 0, 0), ">= 20")
    assert satisfies((22, 0, 0), ">=v12.22.7")
    assert not satisfies((22, 14, 0), "^20.19.0 || ^22.15.0 || >=24.0.0")


def test_frontend_build_runs_once_on_the_build_platform_with_a_node_every_package_accepts() -> None:
    import json

    build, *_ = stages(FRONTEND_DOCKERFILE)
    assert build[0].startswith("FROM --platform=$BUILDPLATFORM ")
    image = base_image(build, FRONTEND_DOCKERFILE)
    repository, _, tag = image.partition(":")
    assert repository == "node" and tag.endswith("-alpine"), image
    node = version(tag.removesuffix("-alpine"))
    assert node >= (20, 19, 0)
    lock = json.loads(FRONTEND_LOCK.read_text())
    too_old = {
        name: entry["engines"]["node"]
        for name, entry in lock["packages"].items()
        if "node" in entry.get("engines", {}) and not satisfies(node, entry["engines"]["node"])
    }
    assert too_old == {}, f"node {tag} is too old for {too_old}"


def test_frontend_installs_exactly_the_lock_without_install_scripts() -> None:
    import json

    build = stages(FRONTEND_DOCKERFILE)[0]
    copies = [i for i in build if i.startswith("COPY")]
    runs = [i for i in build if i.startswith("RUN")]
    # manifests first (a cached layer), then the sources, then the build
    assert copies[0] == "COPY frontend/package.json frontend/package-lock.json ./"
    assert copies[1] == "COPY frontend/ ./"
    assert "npm ci --ignore-scripts" in runs[0] and runs[-1].endswith("npm run build")
    # --ignore-scripts is safe only while no locked package needs its install script
    lock = json.loads(FRONTEND_LOCK.read_text())
    scripted = [name for name, entry in lock["packages"].items() if entry.get("hasInstallScript")]
    assert scripted == []


def test_frontend_runtime_stage_only_copies_files_and_runs_as_non_root() -> None:
    _, runtime = stages(FRONTEND_DOCKERFILE)
    assert not runtime[0].startswith("FROM --platform")  # one per target architecture
    image = base_image(runtime, FRONTEND_DOCKERFILE)
    assert image.startswith("nginxinc/nginx-unprivileged:") and image.endswith("-alpine")
    # nothing runs in the target's architecture, so no emulator is needed to build arm64
    assert [i.split()[0] for i in runtime if i.split()[0] in {"RUN", "ADD"}] == []
    copies = [i for i in runtime if i.startswith("COPY")]
    assert copies == [
        "COPY deploy/frontend.default.conf /etc/nginx/conf.d/default.conf",
        # rendered with the environment by the base image's entrypoint when the container starts
        "COPY deploy/frontend.nginx.conf.template /etc/nginx/templates/frontend.conf.template",
        "COPY --from=build /src/dist /usr/share/nginx/app",
    ]
    conf = (REPO / "deploy" / "frontend.nginx.conf.template").read_text()
    assert re.search(r"^\s*root /usr/share/nginx/app;", conf, re.MULTILINE)
    [user] = [i.split()[1] for i in runtime if i.startswith("USER ")]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    [check] = [i for i in runtime if i.startswith("HEALTHCHECK")]
    assert "http://127.0.0.1:8080/healthz" in check
    assert "EXPOSE 8080" in runtime


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether a context path is left out, as BuildKit decides (moby's patternmatcher): the last
    pattern matching the path or one of its parent directories wins; `!` re-includes."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                token, re.escape(token)
            )
        return re.compile(out)

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for line in patterns:
        negated = line.startswith("!")
        pattern = regex(line.removeprefix("!").strip("/"))
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def test_dockerignore_reader_follows_buildkit() -> None:
    patterns = ["*", "!frontend", "frontend/node_modules", "**/*.log"]
    assert dockerignore_excludes(patterns, "README.md")
    assert not dockerignore_excludes(patterns, "frontend/src/main.tsx")
    assert dockerignore_excludes(patterns, "frontend/node_modules/vite/package.json")
    assert dockerignore_excludes(patterns, "frontend/src/debug.log")


def test_frontend_context_holds_the_app_sources_but_no_build_output() -> None:
    ignore = REPO / "deploy" / "frontend.Dockerfile.dockerignore"
    patterns = [
        line.strip()
        for line in ignore.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    copied = [
        "frontend/package.json",
        "frontend/package-lock.json",
        "frontend/index.html",
        "frontend/vite.config.ts",
        "frontend/tsconfig.json",
        "deploy/frontend.default.conf",
        "deploy/frontend.nginx.conf.template",
    ]
    sources = [p.relative_to(REPO).as_posix() for p in (REPO / "frontend" / "src").rglob("*.ts*")]
    assert sources
    for path in copied + sources:
        assert not dockerignore_excludes(patterns, path), path
    for path in (
        "frontend/node_modules/vite/package.json",
        "frontend/dist/index.html",
        "frontend/dist/assets/index-abc123.js",
        "frontend/tsconfig.tsbuildinfo",
        ".venv/bin/python",
        ".git/config",
        ".data/runtime.json",
        "orders/src/orders/app.py",
        "envs/common.env",
        "deploy/Dockerfile",
    ):
        assert dockerignore_excludes(patterns, path), path
