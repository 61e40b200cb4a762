"""`python -m chatapp`: read the configuration, run the server, exit 0 when stopped.

A missing or invalid setting is one line on stderr naming the variable, exit code 2.
"""

from __future__ import annotations

import asyncio
import os
import sys

from chatapp.config import Config, ConfigError
from chatapp.logs import log, route_library_logs
from chatapp.server import run


def main() -> int:
    try:
        config = Config.from_env(os.environ)
    except ConfigError as error:
        print(f"chatapp: configuration error: {error}", file=sys.stderr)
        return 2
    route_library_logs(log)
    return asyncio.run(run(config))


if __name__ == "__main__":
    sys.exit(main())
