"""One service in a process of its own, for `up --processes`: the pod's command
(`uvicorn --factory <module>:create_app`, charts/orders-saga/templates/apps.yaml), plus
dying with `up` if `up` is killed.

    python -m orders_saga_cli.service_process <service> <port> <parent pid>
"""

from __future__ import annotations

import os
import sys

import uvicorn

from sagakit.embedded import die_with_parent
from sagakit.logs import configure_logging
from sagakit.settings import ConnectionSettings
from sagakit.web import WS_MAX_MESSAGE_BYTES

# The same factories the Helm chart runs.
FACTORIES = {
    "orders": "orders.app:create_app",
    "delivery": "delivery.app:create_app",
    "notifications": "notifications.app:create_app",
    "actors": "simulator.actors.app:create_app",
}
HTTP_GRACE_S = 2  # open connections (WebSockets) at SIGTERM; then the service stops


def main(argv: list[str]) -> int:
    service, port, parent = argv[0], int(argv[1]), int(argv[2])
    set_death_signal = die_with_parent()
    if set_death_signal is not None:
        set_death_signal()
    if os.getppid() != parent:  # `up` died before the signal was set: nobody would stop us
        return 1
    configure_logging(json=ConnectionSettings().log_json)  # LOG_JSON, as the pods get it
    uvicorn.run(
        FACTORIES[service],
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
        timeout_graceful_shutdown=HTTP_GRACE_S,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
