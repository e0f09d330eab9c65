"""A sendmail stand-in for the ops tests: ``python mailbox.py DIR [sendmail options]``.

crashmail and memmon pipe a mail (headers, blank line, text) to their ``-s`` command, as
they would to ``/usr/sbin/sendmail -t -i``; this writes it to a new file in DIR (written
aside, then renamed, so a reader never sees half a mail).
"""

import os
import sys
import time
from pathlib import Path


def main(argv) -> int:
    folder = Path(argv[1])
    text = sys.stdin.buffer.read()
    name = f"{time.time_ns()}-{os.getpid()}"
    partial = folder / f".{name}.part"
    partial.write_bytes(text)
    partial.rename(folder / f"{name}.eml")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
