"""Repository-wide pytest setup.

Tests live next to the package they test (`orders/tests/...`). pytest's importlib mode names
such a module `orders.tests.test_x` and would register a placeholder `orders` module for the
parent if the real package were not imported yet, hiding `orders.domain` and friends. Importing
the real packages first makes the test modules attach to them instead.
"""

import delivery  # noqa: F401
import notifications  # noqa: F401
import orders  # noqa: F401
import saga_contracts  # noqa: F401
import sagakit  # noqa: F401
import simulator  # noqa: F401
