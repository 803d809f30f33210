"""The factories the pods run (`uvicorn --factory <module>:create_app`) log as LOG_JSON says.

Each runs in a process of its own, as in a pod: logging is configured per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orders_saga_cli.service_process import FACTORIES

PROBE = """
import importlib, sys, structlog
module, factory = sys.argv[1].split(":")
getattr(importlib.import_module(module), factory)()
structlog.get_logger("probe").info("probe line")
"""


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_a_pod_logs_json_lines_when_asked(service: str) -> None:
    env = {
        **os.environ,
        "LOG_JSON": "true",
        "OPERATOR_API_KEY": "k" * 24,
        "TRACKING_SECRET": "s" * 32,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, FACTORIES[service]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = done.stderr.strip().splitlines()[-1]
    assert json.loads(line)["event"] == "probe line"
