"""pytest plugin of sagakit: real Redis and MongoDB fixtures (`-p sagakit.testing.plugin`)."""

from sagakit.testing.mongo import mongo_db, mongo_url  # noqa: F401
from sagakit.testing.redis import namespace, private_redis, redis, redis_url  # noqa: F401
from sagakit.testing.workers import make_worker, publisher  # noqa: F401
