"""The report CSV writer (formula cells neutralised) next to a plain csv.writer, same rows.

    .venv/bin/python bench/csv_cells.py [--rows 330000]

Prints the CPU seconds of each writer over the same report-like rows (a phone
number starting with +, contact fields, outcome, counts, local times): the cost
of ``app.csvcells`` on a finalization's CSV step. Not a timed test.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import csvcells  # noqa: E402

ROW = ["+33612345678", "Nom 1 é", "Paris", "answered", 2, "1", "Confirm",
       "2026-11-23 10:00:05+01:00", 12, "2026-11-23 10:00:25+01:00"]


def cpu_of(make_writer, rows: int) -> float:
    writer = make_writer(io.StringIO())
    started = time.process_time()
    for _ in range(rows):
        writer.writerow(ROW)
    return time.process_time() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=330_000)
    rows = parser.parse_args().rows
    plain = cpu_of(csv.writer, rows)
    safe = cpu_of(csvcells.writer, rows)
    print(f"baseline csv.writer:  {plain:.2f} s CPU for {rows:,} rows")
    print(f"csvcells.writer:      {safe:.2f} s CPU = {safe / plain:.2f}x, "
          f"{(safe - plain) / rows * 1e6:.2f} us more per row")


if __name__ == "__main__":
    main()
