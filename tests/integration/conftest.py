"""Makes the `harness` package importable and registers the fixtures of every protocol: pytest
finds a fixture in conftest.py when it is imported here by name. A new protocol imports its
`harness.fixtures.<protocol>` fixtures below the PostgreSQL ones."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness.fixtures.common import certs  # noqa: E402,F401
from harness.fixtures.postgres import fresh_gateway, gateway, pg  # noqa: E402,F401
