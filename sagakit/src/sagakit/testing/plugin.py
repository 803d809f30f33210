"""pytest plugin of sagakit: real Redis and MongoDB fixtures (`-p sagakit.testing.plugin`)."""

from sagakit.testing.mongo import mongo_db, mongo_url  # noqa: F401
from sagakit.testing.redis import (  # noqa: F401
    namespace,
    private_redis,
    pytest_configure,
    pytest_generate_tests,
    redis,
    redis_executable,
    redis_url,
)
from sagakit.testing.workers import make_worker, publisher  # noqa: F401
