"""Build the browser app for `up` when its sources are newer than the build, and Node is here.

`up` serves `frontend/dist`. A fresh checkout has no build, and a pulled change makes it stale,
so `up` builds it (npm ci when node_modules is missing, then npm run build) before serving.
Without npm, or when the build fails, `up` still runs: it serves the last build, or a landing
page that says how to build one. FRONTEND_BUILD=never turns this off (tests that do not need
the browser app), =always forces a build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sagakit.logs import get_logger

log = get_logger("orders_saga.frontend")

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
INPUTS = ("src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts")
BUILD_TIMEOUT_S = 300


def newest_input_mtime(root: Path) -> float:
    newest = 0.0
    for name in INPUTS:
        path = root / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
    return newest


def is_stale(root: Path = FRONTEND) -> bool:
    built = root / "dist" / "index.html"
    return not built.is_file() or built.stat().st_mtime < newest_input_mtime(root)


def build(root: Path = FRONTEND) -> bool:
    """npm ci (when needed) and npm run build; True when dist/ is fresh afterwards."""
    npm = shutil.which("npm")
    if npm is None:
        return False
    steps = [[npm, "run", "build"]]
    if not (root / "node_modules").is_dir():
        steps.insert(0, [npm, "ci", "--no-audit", "--no-fund"])
    for step in steps:
        print(f"orders-saga: building the browser app: {' '.join(step[1:])}", flush=True)
        try:
            done = subprocess.run(
                step,
                cwd=root,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("frontend_build_failed", step=step[1:], error=str(exc))
            return False
        if done.returncode != 0:
            log.warning(
                "frontend_build_failed", step=step[1:], output=(done.stdout + done.stderr)[-2000:]
            )
            return False
    return not is_stale(root)


def ensure_built(root: Path = FRONTEND) -> Path | None:
    """The directory to serve the browser app from, building it first when that is needed."""
    mode = os.environ.get("FRONTEND_BUILD", "auto")
    wanted = root.is_dir() and mode != "never" and (mode == "always" or is_stale(root))
    if wanted and not build(root):
        print("orders-saga: could not build the browser app (is Node.js installed?)", flush=True)
    return root / "dist" if (root / "dist" / "index.html").is_file() else None
