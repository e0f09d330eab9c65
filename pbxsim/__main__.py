"""``python -m pbxsim``: a simulated Asterisk (AMI server + FastAGI client).

Defaults come from the settings (AMI_PORT, AMI_USER, AMI_SECRET, DIALPLAN_PATH,
PBXSIM_MODEL, PBXSIM_SPEED, PBXSIM_MAX_CHANNELS); options override them.
The AGI host and port are not options: like Asterisk, pbxsim connects wherever
the loaded dialplan's ``AGI(agi://...)`` says (the generator writes AGI_HOST/AGI_PORT).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from app.config import get_settings
from app.logs import configure_logging
from pbxsim.server import Pbx


def _range(text):
    lo, _, hi = text.partition(",")
    try:
        lo, hi = float(lo), float(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX seconds, got {text!r}") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
    return (lo, hi)


def build_parser(settings):
    p = argparse.ArgumentParser(prog="python -m pbxsim", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="AMI bind address")
    p.add_argument("--port", type=int, default=settings.ami_port, help="AMI port (0: any free)")
    p.add_argument("--user", default=settings.ami_user)
    p.add_argument("--secret", default=settings.ami_secret)
    p.add_argument("--dialplan", default=str(settings.dialplan_path),
                   help="the file 'dialplan reload' reads (DIALPLAN_PATH)")
    p.add_argument("--model", choices=("lastdigit", "random"), default=settings.pbxsim_model)
    p.add_argument("--speed", type=float, default=settings.pbxsim_speed,
                   help="divide every simulated duration by this")
    p.add_argument("--max-channels", type=int, default=settings.pbxsim_max_channels,
                   help="trunk limit: calls beyond it fail with congestion (Reason 8)")
    p.add_argument("--message-s", type=float, default=6.0, help="length of the played message")
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
    p.add_argument("--digits", default="123", help="digits the random callee presses")
    p.add_argument("--ring-s", type=_range, default=(1.0, 8.0), metavar="MIN,MAX",
                   help="random: ring time before answer/busy/congestion")
    p.add_argument("--talk-s", type=_range, default=(5.0, 60.0), metavar="MIN,MAX",
                   help="random: length of a transferred call")
    p.add_argument("--listen-s", type=_range, default=(0.5, 6.0), metavar="MIN,MAX",
                   help="random: how long a hanging-up callee listens")
    p.add_argument("--port-file", default="", help="write the bound AMI port here")
    return p


async def serve(args):
    model_options = {}
    if args.model == "random":
        model_options = dict(p_answer=args.p_answer, p_busy=args.p_busy,
                             p_noanswer=args.p_noanswer, p_congestion=args.p_congestion,
                             p_digit=args.p_digit, digits=args.digits, seed=args.seed,
                             p_hangup=args.p_hangup, ring=args.ring_s, talk=args.talk_s,
                             listen=args.listen_s)
    pbx = Pbx(username=args.user, secret=args.secret, model=args.model,
              model_options=model_options, speed=args.speed, max_channels=args.max_channels,
              dialplan_path=args.dialplan, message_s=args.message_s, pin_limit=args.pin_limit)
    port = await pbx.start(args.host, args.port)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as fh:
            fh.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)
    logging.getLogger("pbxsim").info(
        "pbxsim listening host=%s port=%s model=%s speed=%s max_channels=%s dialplan=%s (%s)",
        args.host, port, args.model, args.speed, args.max_channels, args.dialplan,
        "loaded" if pbx.dialplan else pbx.dialplan_error)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await pbx.stop()


def main(argv=None):
    settings = get_settings()
    args = build_parser(settings).parse_args(argv)
    configure_logging(settings, "pbx")
    try:
        import uvloop  # in requirements: the event loop cost per simulated call halves
    except ImportError:  # pragma: no cover
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))


if __name__ == "__main__":
    main()
