"""Every way the services are served caps a client's WebSocket message at the runtime's limit
(uvicorn's default is 16 MiB): the image's default command and the chart's pods. `up` is
checked by behaviour in tests/test_bad_websockets.py."""

from __future__ import annotations

from pathlib import Path

from sagakit.web import WS_MAX_MESSAGE_BYTES

from .test_chart import containers, of_kind, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_command_caps_websocket_messages() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert f"--ws-max-size {WS_MAX_MESSAGE_BYTES}" in command


def test_every_uvicorn_in_the_chart_caps_websocket_messages() -> None:
    commands = [
        container["command"]
        for deployment in of_kind(render(), "Deployment")
        for container, _ in containers(deployment)
        if container.get("command", [None])[0] == "uvicorn"
    ]
    assert commands, "no uvicorn container rendered"
    for command in commands:
        flag = command.index("--ws-max-size")
        assert command[flag + 1] == str(WS_MAX_MESSAGE_BYTES), command
