"""``python -m tasks.scheduler [periodiq options]``: periodiq's scheduler, logging
through app/logs.py like every other process (JSON with LOG_FORMAT=json).

periodiq's entry point starts with ``logging.basicConfig``, which leaves a root
logger that already has handlers alone, so configuring ours first is enough.
"""

import sys

from periodiq import entrypoint

from app.config import settings_or_exit
from app.logs import configure_logging


def main():
    configure_logging(settings_or_exit(), "scheduler")
    sys.argv = ["periodiq", *(sys.argv[1:] or ["tasks"])]
    return entrypoint()


if __name__ == "__main__":
    sys.exit(main())
