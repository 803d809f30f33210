"""pytest plugin of sagakit: real Redis and MongoDB fixtures (`-p sagakit.testing.plugin`)."""

import pytest
import structlog

from sagakit.logs import configure_logging
from sagakit.testing.mongo import mongo_db, mongo_url  # noqa: F401
from sagakit.testing.redis import (  # noqa: F401
    namespace,
    private_redis,
    pytest_generate_tests,
    redis,
    redis_executable,
    redis_url,
)
from sagakit.testing.redis import pytest_configure as declare_redis_markers
from sagakit.testing.workers import make_worker, publisher  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    """Log in tests as a service does on a terminal (tracebacks without locals)."""
    declare_redis_markers(config)
    configure_logging(json=False, level="DEBUG")
    structlog.configure(cache_logger_on_first_use=False)  # so structlog.testing.capture_logs works
