"""From a planned file to normalised rows: records, chunks, and the worker pool.

    main process: read CSV records -> chunks of (line, cells)
    worker pool (spawn, one per core): phone -> E.164, other cells -> JSON text

At most a window of chunks is in flight, so memory stays bounded whatever the
file size. The workers import this module (and the phone rules) by name.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from app.contacts.phones import normalise_phone
from app.contacts.plan import ImportPlan

CHUNK_ROWS = 5000  # rows per worker task and per INSERT
# Files smaller than this are normalised in the calling process: starting
# spawned workers costs more than it saves.
POOL_MIN_BYTES = 2 * 1024 * 1024


def read_records(plan: ImportPlan):
    """Yield (line number, cells, error) for each non-blank data record.

    The line number is where the record starts in the file (1 = first line).
    A record the csv module cannot read gives cells None and the error text.
    """
    with open(plan.path, encoding=plan.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=plan.delimiter)
        skip_header = plan.has_header
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, None, f"unreadable CSV record: {exc}"
                continue
            if skip_header:
                skip_header = False
                continue
            text = "".join(row)
            if not text or text.isspace():  # a blank line, or only empty cells
                continue
            yield start, row, ""


@dataclass(frozen=True)
class ChunkSpec:
    """What a worker needs to normalise chunks (picklable, no database)."""

    country: str
    phone_index: int
    columns: tuple  # every column name, phone included


def normalise_chunk(chunk, spec: ChunkSpec):
    """Turn [(line, cells, error)] into ([(phone, fields_json, line)], [(line, reason, cells)])."""
    good, rejects = [], []
    width = len(spec.columns)
    names = spec.columns
    phone_index = spec.phone_index
    country = spec.country
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
    for line, cells, error in chunk:
        if cells is None:
            rejects.append((line, error, []))
            continue
        if len(cells) > width:
            rejects.append((line, f"{len(cells)} fields, the file has {width} columns", cells))
            continue
        raw = cells[phone_index] if phone_index < len(cells) else ""
        phone, reason = normalise_phone(raw, country)
        if phone is None:
            rejects.append((line, reason, cells))
            continue
        fields = {
            names[i]: (cells[i] if i < len(cells) else "") for i in range(width) if i != phone_index
        }
        good.append((phone, dumps(fields), line))
    return good, rejects


def _chunks(records, size):
    """Lists of ``size`` records (the last one shorter)."""
    chunk = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _normalised(chunks, spec: ChunkSpec, workers: int):
    """normalise_chunk() of each chunk, in file order: here, or in ``workers`` processes."""
    if workers <= 0:
        for chunk in chunks:
            yield normalise_chunk(chunk, spec)
        return
    # spawn, not fork: the caller is often a threaded Dramatiq worker.
    # An executor, not multiprocessing.Pool: a worker that dies (OOM
    # killer) raises BrokenProcessPool here instead of hanging forever.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending = deque()
        window = 2 * workers + 1  # enough to keep every worker busy, no more
        for chunk in chunks:
            pending.append(pool.submit(normalise_chunk, chunk, spec))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def pool_size(path, workers: int | None = None) -> int:
    """``workers``; by default one per core for a file over ``POOL_MIN_BYTES``, else none."""
    if workers is not None:
        return workers
    big = os.path.getsize(path) >= POOL_MIN_BYTES
    return (os.cpu_count() or 1) if big else 0


def normalised_rows(plan: ImportPlan, workers: int | None = None, chunk_rows: int = CHUNK_ROWS):
    """(good, rejects) of each chunk, in file order (a generator: close() stops the pool)."""
    spec = ChunkSpec(plan.country, plan.phone_index, tuple(plan.columns))
    chunks = _chunks(read_records(plan), chunk_rows)
    return _normalised(chunks, spec, pool_size(plan.path, workers))
