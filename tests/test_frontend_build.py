"""`up` builds the browser app when its sources are newer than the build, with npm ci first
when node_modules is missing; without npm it serves what is there."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from orders_saga_cli import frontend_build


@pytest.fixture
def app_root(tmp_path: Path) -> Path:
    root = tmp_path / "frontend"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.tsx").write_text("export {};\n")
    (root / "package.json").write_text("{}\n")
    return root


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `npm` that logs its arguments and, for `run build`, writes dist/index.html."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "npm-calls"
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        'if [ "$1 $2" = "run build" ]; then mkdir -p dist && echo built > dist/index.html; fi\n'
        'if [ "$1" = "ci" ]; then mkdir -p node_modules; fi\n'
    )
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


def touch_later(path: Path) -> None:
    later = time.time() + 5
    os.utime(path, (later, later))


def test_a_checkout_without_a_build_is_stale_and_a_fresh_build_is_not(app_root: Path) -> None:
    assert frontend_build.is_stale(app_root)
    (app_root / "dist").mkdir()
    (app_root / "dist" / "index.html").write_text("<html></html>")
    touch_later(app_root / "dist" / "index.html")
    assert not frontend_build.is_stale(app_root)


def test_a_source_changed_after_the_build_makes_it_stale(app_root: Path) -> None:
    (app_root / "dist").mkdir()
    (app_root / "dist" / "index.html").write_text("<html></html>")
    touch_later(app_root / "src" / "main.tsx")
    assert frontend_build.is_stale(app_root)


def test_first_run_installs_then_builds_and_serves_the_build(
    app_root: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTEND_BUILD", "auto")
    assert frontend_build.ensure_built(app_root) == app_root / "dist"
    assert fake_npm.read_text().splitlines() == ["ci --no-audit --no-fund", "run build"]


def test_an_up_to_date_build_is_served_without_running_npm(
    app_root: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTEND_BUILD", "auto")
    (app_root / "node_modules").mkdir()
    (app_root / "dist").mkdir()
    (app_root / "dist" / "index.html").write_text("<html></html>")
    touch_later(app_root / "dist" / "index.html")
    assert frontend_build.ensure_built(app_root) == app_root / "dist"
    assert not fake_npm.exists()


def test_never_skips_the_build_and_without_one_there_is_nothing_to_serve(
    app_root: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTEND_BUILD", "never")
    assert frontend_build.ensure_built(app_root) is None
    assert not fake_npm.exists()


def test_a_failing_build_leaves_up_running_without_the_app(
    app_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "failing-bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\necho 'type error' >&2\nexit 1\n")
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FRONTEND_BUILD", "auto")
    assert frontend_build.ensure_built(app_root) is None
