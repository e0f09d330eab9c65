"""``python -m pbxsim``: a simulated Asterisk (AMI server + FastAGI client).

pbxsim is a PBX and knows only the wire: it reads its own command line and
environment, never Callcast's settings. Option defaults come from the same
variables Callcast's .env sets (AMI_PORT, AMI_USER, AMI_SECRET, DIALPLAN_PATH,
PBXSIM_MODEL, PBXSIM_SPEED, PBXSIM_MAX_CHANNELS, PBXSIM_OUTBOUND), and logging from LOG_LEVEL,
LOG_FORMAT (text|json) and LOG_DIR (write LOG_DIR/pbx.log instead of stderr).
The AGI host and port are not options: like Asterisk, pbxsim connects wherever
the loaded dialplan's ``AGI(agi://...)`` says (the generator writes AGI_HOST/AGI_PORT).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.handlers
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

from pbxsim.routing import DEFAULT_OUTBOUND, RouteSyntaxError, parse_outbound
from pbxsim.server import Pbx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIALPLAN = ROOT / "var" / "asterisk" / "callcast.conf"
MODELS = ("lastdigit", "random")
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s pbx[%(process)d] %(name)s: %(message)s"
ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_COUNT = 5

log = logging.getLogger("pbxsim")


class ConfigError(ValueError):
    """A malformed environment variable; the message names it."""


def _env_text(environ, name, default):
    value = environ.get(name)
    return default if value is None or value == "" else value


def _env_number(environ, name, default, kind, minimum=None, maximum=None):
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value}")
    return value


def _env_choice(environ, name, default, choices):
    value = _env_text(environ, name, default).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _env_outbound(environ, name, default):
    value = _env_text(environ, name, default)
    try:
        parse_outbound(value)
    except RouteSyntaxError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return value


def _outbound(text):
    try:
        parse_outbound(text)
    except RouteSyntaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def env_defaults(environ):
    """The option defaults the environment sets (same names and defaults as .env.example).

    Raises:
        ConfigError: a variable is malformed.
    """
    dialplan = Path(_env_text(environ, "DIALPLAN_PATH", str(DEFAULT_DIALPLAN))).expanduser()
    return {
        "port": _env_number(environ, "AMI_PORT", 5038, int, 0, 65535),
        "user": _env_text(environ, "AMI_USER", "callcast"),
        "secret": _env_text(environ, "AMI_SECRET", "callcast"),
        "dialplan": str(dialplan),
        "model": _env_choice(environ, "PBXSIM_MODEL", "lastdigit", MODELS),
        "speed": _env_number(environ, "PBXSIM_SPEED", 1.0, float, 0.001),
        "max_channels": _env_number(environ, "PBXSIM_MAX_CHANNELS", 200, int, 1),
        "outbound": _env_outbound(environ, "PBXSIM_OUTBOUND", DEFAULT_OUTBOUND),
        "sounds_dir": _env_text(environ, "PBXSIM_SOUNDS_DIR", ""),
    }


def _range(text):
    lo, _, hi = text.partition(",")
    try:
        lo, hi = float(lo), float(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX seconds, got {text!r}") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
    return (lo, hi)


def build_parser(defaults):
    """The command line; ``defaults`` from ``env_defaults``."""
    p = argparse.ArgumentParser(prog="python -m pbxsim", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="AMI bind address")
    p.add_argument("--port", type=int, default=defaults["port"],
                   help="AMI port (AMI_PORT; 0: any free)")
    p.add_argument("--user", default=defaults["user"], help="AMI user (AMI_USER)")
    p.add_argument("--secret", default=defaults["secret"], help="AMI secret (AMI_SECRET)")
    p.add_argument("--dialplan", default=defaults["dialplan"],
                   help="the file 'dialplan reload' reads (DIALPLAN_PATH)")
    p.add_argument("--model", choices=MODELS, default=defaults["model"],
                   help="callee model (PBXSIM_MODEL)")
    p.add_argument("--speed", type=float, default=defaults["speed"],
                   help="divide every simulated duration by this (PBXSIM_SPEED)")
    p.add_argument("--max-channels", type=int, default=defaults["max_channels"],
                   help="trunk limit: calls beyond it fail with congestion (Reason 8) "
                        "(PBXSIM_MAX_CHANNELS)")
    p.add_argument("--outbound", type=_outbound, default=defaults["outbound"],
                   metavar="CONTEXT=PATTERN[,...][;...]",
                   help="outbound contexts a Local/<number>@<context> dial string may reach, "
                        "with Asterisk's extension patterns; a number no pattern matches fails "
                        "with Reason 0 (PBXSIM_OUTBOUND; default %(default)s)")
    p.add_argument("--message-s", type=float, default=6.0,
                   help="length of a played message pbxsim has no file of (no --sounds-dir)")
    p.add_argument("--sounds-dir", default=defaults.get("sounds_dir") or None,
                   help="Asterisk's sounds folder (PBXSIM_SOUNDS_DIR): file lengths count, "
                        "a missing file is warned about and lasts nothing")
    p.add_argument("--pin-limit", type=float, default=30.0,
                   help="seconds pbxsim waits for an AGI server that does not close "
                        "(Asterisk waits forever)")
    p.add_argument("--seed", type=int, default=None, help="random model seed")
    p.add_argument("--p-answer", type=float, default=0.6)
    p.add_argument("--p-busy", type=float, default=0.1)
    p.add_argument("--p-noanswer", type=float, default=0.2)
    p.add_argument("--p-congestion", type=float, default=0.05)
    p.add_argument("--p-digit", type=float, default=0.7)
    p.add_argument("--p-hangup", type=float, default=0.1,
                   help="random: an answering callee hangs up during the menu")
    p.add_argument("--p-machine", type=float, default=0.0,
                   help="random: share of answering callees that are answering machines")
    p.add_argument("--digits", default="123", help="digits the random callee presses")
    p.add_argument("--ring-s", type=_range, default=(1.0, 8.0), metavar="MIN,MAX",
                   help="random: ring time before answer/busy/congestion")
    p.add_argument("--talk-s", type=_range, default=(5.0, 60.0), metavar="MIN,MAX",
                   help="random: length of a transferred call")
    p.add_argument("--listen-s", type=_range, default=(0.5, 6.0), metavar="MIN,MAX",
                   help="random: how long a hanging-up callee listens")
    p.add_argument("--port-file", default="", help="write the bound AMI port here")
    p.add_argument("--without-module", action="append", default=[], metavar="NAME",
                   help="act as a PBX without this module (e.g. app_amd): AMI ModuleCheck "
                        "says it is not loaded and its applications do not exist")
    return p


class JsonFormatter(logging.Formatter):
    """One JSON object a line, the fields Callcast's other processes write."""

    def format(self, record):
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "service": "pbx", "logger": record.name,
            "pid": record.process, "msg": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(environ):
    """Log at LOG_LEVEL to stderr, or to LOG_DIR/pbx.log, as text or JSON (LOG_FORMAT).

    Raises:
        ConfigError: LOG_FORMAT or LOG_LEVEL is malformed.
    """
    level = _env_text(environ, "LOG_LEVEL", "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"LOG_LEVEL must be a logging level, got {level!r}")
    fmt = _env_choice(environ, "LOG_FORMAT", "text", LOG_FORMATS)
    log_dir = _env_text(environ, "LOG_DIR", "")
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            Path(log_dir) / "pbx.log", maxBytes=ROTATE_BYTES, backupCount=ROTATE_COUNT,
            encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _model_options(args):
    if args.model != "random":
        return {}
    return dict(p_answer=args.p_answer, p_busy=args.p_busy, p_noanswer=args.p_noanswer,
                p_congestion=args.p_congestion, p_digit=args.p_digit, digits=args.digits,
                seed=args.seed, p_hangup=args.p_hangup, ring=args.ring_s, talk=args.talk_s,
                listen=args.listen_s, p_machine=args.p_machine)


async def serve(args):
    """Run pbxsim until SIGTERM or SIGINT."""
    pbx = Pbx(username=args.user, secret=args.secret, model=args.model,
              model_options=_model_options(args), speed=args.speed,
              max_channels=args.max_channels, dialplan_path=args.dialplan,
              message_s=args.message_s, pin_limit=args.pin_limit, outbound=args.outbound,
              without_modules=args.without_module, sounds_dir=args.sounds_dir)
    port = await pbx.start(args.host, args.port)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as fh:
            fh.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)
    log.info("pbxsim listening host=%s port=%s model=%s speed=%s max_channels=%s dialplan=%s (%s) "
             "outbound=%s", args.host, port, args.model, args.speed, args.max_channels,
             args.dialplan, "loaded" if pbx.dialplan else pbx.dialplan_error, args.outbound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await pbx.stop()


def main(argv=None, environ=None):
    """Read the environment and the command line, set up logging, serve."""
    environ = os.environ if environ is None else environ
    try:
        args = build_parser(env_defaults(environ)).parse_args(argv)
        configure_logging(environ)
    except ConfigError as exc:
        raise SystemExit(f"pbxsim: configuration error: {exc}") from None
    try:
        import uvloop  # in requirements: the event loop cost per simulated call halves
    except ImportError:  # pragma: no cover
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))


if __name__ == "__main__":
    main()
