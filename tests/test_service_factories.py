"""The factories the pods run (`uvicorn --factory <module>:create_app`) log as LOG_JSON says."""

from __future__ import annotations

import importlib
import json

import pytest
import structlog

from orders_saga_cli.service_process import FACTORIES


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_a_pod_logs_json_lines_when_asked(
    service: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    structlog.reset_defaults()  # whatever an earlier test configured
    monkeypatch.setenv("LOG_JSON", "true")
    monkeypatch.setenv("OPERATOR_API_KEY", "k" * 24)
    monkeypatch.setenv("TRACKING_SECRET", "s" * 32)
    module, factory = FACTORIES[service].split(":")
    app = getattr(importlib.import_module(module), factory)()
    assert app is not None
    structlog.get_logger("probe").info("probe line", service=service)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(line)["event"] == "probe line"
