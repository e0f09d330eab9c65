"""A test program for the memmon drill: holds STEP_MB more memory on each SIGUSR1.

Deployed by the ops tests as the supervisord program ``callcast-memhog`` (test inventory
only). Bounded: it never holds more than MAX_MB, whatever it is sent.
"""

import signal
import sys
import threading

STEP_MB = 64
MAX_MB = 256

grow = threading.Event()
held = []


def main() -> int:
    signal.signal(signal.SIGUSR1, lambda *_: grow.set())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("memhog ready", file=sys.stderr, flush=True)
    while True:
        grow.wait()
        grow.clear()
        if len(held) * STEP_MB < MAX_MB:
            # bytes filled with ones: every page written, so it counts in the RSS
            held.append(b"\x01" * (STEP_MB * 1024 * 1024))
        print(f"memhog holds {len(held) * STEP_MB} MB", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
