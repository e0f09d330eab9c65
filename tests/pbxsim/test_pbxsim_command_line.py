"""``python -m pbxsim`` reads its own command line and environment, never Callcast's settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pbxsim.__main__ import DEFAULT_DIALPLAN, build_parser, env_defaults, main

ROOT = Path(__file__).resolve().parents[2]


def parse(environ, *argv):
    return build_parser(env_defaults(environ)).parse_args(list(argv))


def test_it_defaults_to_the_values_of_env_example():
    args = parse({})
    assert (args.port, args.user, args.secret, args.model, args.speed, args.max_channels) == (
        5038, "callcast", "callcast", "lastdigit", 1.0, 200)
    assert args.dialplan == str(DEFAULT_DIALPLAN)


def test_it_takes_its_defaults_from_the_environment_and_options_override_them():
    environ = {"AMI_PORT": "6000", "AMI_USER": "u", "AMI_SECRET": "s",
               "DIALPLAN_PATH": "/tmp/x.conf", "PBXSIM_MODEL": "Random",
               "PBXSIM_SPEED": "10", "PBXSIM_MAX_CHANNELS": "7", "AMI_TIMEOUT": "nonsense"}
    args = parse(environ)
    assert (args.port, args.user, args.secret, args.dialplan, args.model, args.speed,
            args.max_channels) == (6000, "u", "s", "/tmp/x.conf", "random", 10.0, 7)
    assert parse(environ, "--speed", "3", "--port", "0").speed == 3.0
    assert parse({"PBXSIM_SPEED": ""}).speed == 1.0  # empty means unset, as in .env


@pytest.mark.parametrize("environ, name", [
    ({"PBXSIM_SPEED": "fast"}, "PBXSIM_SPEED"),
    ({"PBXSIM_SPEED": "0"}, "PBXSIM_SPEED"),
    ({"AMI_PORT": "70000"}, "AMI_PORT"),
    ({"PBXSIM_MAX_CHANNELS": "0"}, "PBXSIM_MAX_CHANNELS"),
    ({"PBXSIM_MODEL": "coin"}, "PBXSIM_MODEL"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
])
def test_it_stops_at_start_on_a_malformed_variable_and_names_it(environ, name):
    with pytest.raises(SystemExit) as exc:
        main([], environ)
    assert name in str(exc.value) and "configuration error" in str(exc.value)


def test_it_imports_nothing_of_callcast():
    code = ("import sys, pbxsim.__main__, pbxsim.server; "
            "print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('app', 'agi', 'tasks', 'flask', 'peewee', 'dramatiq')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_it_logs_json_lines_when_log_format_is_json(pbxsim_process, pbx_settings):
    proc = pbxsim_process("--dialplan", str(pbx_settings.dialplan_path),
                          env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "LOG_DIR": ""})
    proc.stop()
    lines = [json.loads(line) for line in proc.proc.stderr.read().decode().splitlines()]
    listening = [d for d in lines if d["msg"].startswith("pbxsim listening")]
    assert len(listening) == 1
    assert (listening[0]["service"], listening[0]["level"], listening[0]["logger"]) == (
        "pbx", "INFO", "pbxsim")
    assert f"port={proc.port} " in listening[0]["msg"]
