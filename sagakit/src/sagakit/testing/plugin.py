"""pytest plugin of sagakit: real Redis and MongoDB fixtures (`-p sagakit.testing.plugin`)."""

import structlog

from sagakit.logs import configure_logging
from sagakit.testing.mongo import mongo_db, mongo_url  # noqa: F401
from sagakit.testing.redis import namespace, private_redis, redis, redis_url  # noqa: F401
from sagakit.testing.workers import make_worker, publisher  # noqa: F401


def pytest_configure() -> None:
    """Log in tests as a service does on a terminal (tracebacks without locals)."""
    configure_logging(json=False, level="DEBUG")
    structlog.configure(cache_logger_on_first_use=False)  # so structlog.testing.capture_logs works
