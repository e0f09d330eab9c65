"""``python -m agi`` options: environment defaults, CLI overrides, the fallback instance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agi.__main__ import options_from, parse_args
from agi.daemon import Options
from app.config import load_settings
from tests.agi.conftest import ROOT


def options_for(argv, env):
    return options_from(parse_args(argv), load_settings(env))


ENV = {"AGI_PORT": "4600", "AGI_METRICS_PORT": "9200", "AGI_JOURNAL_PATH": "/tmp/x/j.jsonl",
       "AGI_BATCH_MAX": "64", "AGI_READ_TIMEOUT": "1.5", "AGI_FALLBACK_PORT": "4601"}


def test_it_takes_its_options_from_the_environment_and_the_command_line():
    options = options_for([], ENV)
    assert isinstance(options, Options)
    assert (options.port, options.metrics_port, options.batch_max, options.read_timeout) == (
        4600, 9200, 64, 1.5)
    assert options.journal_path == Path("/tmp/x/j.jsonl")
    options = options_for(["--port", "0", "--batch-max", "7", "--no-metrics"], ENV)
    assert (options.port, options.batch_max, options.metrics_port) == (0, 7, None)


def test_it_gives_the_fallback_instance_ports_and_journal_of_its_own():
    options = options_for(["--source", "fallback"], ENV)
    assert (options.source, options.port, options.metrics_port) == ("fallback", 4601, 9201)
    assert options.journal_path == Path("/tmp/x/j-fallback.jsonl")


def test_it_exits_with_a_clear_message_when_the_journal_is_taken(tmp_path, sqlite_url):
    from agi.journal import Journal

    holder = Journal(tmp_path / "j.jsonl").open()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "agi", "--port", "0", "--no-metrics",
             "--journal", str(tmp_path / "j.jsonl"), "--database-url", sqlite_url],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
    finally:
        holder.close()
    assert proc.returncode == 2
    assert "locked by another process" in proc.stderr


@pytest.mark.parametrize("module", ["agi", "agi.amievents"])
def test_it_refuses_a_published_call_token_secret_unless_demo(module, tmp_path, sqlite_url):
    from agi.journal import Journal

    def start(**extra):
        env = {k: v for k, v in os.environ.items() if k not in ("CALL_TOKEN_SECRET", "DEMO")}
        return subprocess.run(
            [sys.executable, "-m", module, "--journal", str(tmp_path / "j.jsonl"),
             "--database-url", sqlite_url, *(["--port", "0", "--no-metrics"]
                                             if module == "agi" else [])],
            cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=60)

    refused = start()
    assert refused.returncode == 2
    assert "CALL_TOKEN_SECRET is a default published with Callcast" in refused.stderr
    assert "DEMO=1" in refused.stderr
    assert "at least 32 characters" in start(CALL_TOKEN_SECRET="short").stderr
    # Past the check, a held journal stops it: proof it would have started.
    holder = Journal(tmp_path / "j.jsonl").open()
    try:
        for accepted in (start(DEMO="1"), start(CALL_TOKEN_SECRET="q" * 40)):
            assert "locked by another process" in accepted.stderr
            assert "cannot start: CALL_TOKEN_SECRET" not in accepted.stderr
    finally:
        holder.close()
