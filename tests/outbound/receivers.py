"""Real servers on 127.0.0.1 port 0 for the outbound tests: a webhook receiver and an SMTP sink."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.waiting import free_port


class WebhookReceiver:
    """An HTTP server that answers each POST as ``script`` says, then 200s; it keeps what came.

    A script entry is a status code, or "slow": hold the answer until the test
    ends (the sender's timeout fires first).
    """

    def __init__(self, script=()):
        self.script = list(script)
        self.received = []  # (headers dict, body bytes) of every request, in order
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                    step = receiver.script.pop(0) if receiver.script else 200
                if step == "slow":
                    receiver.release.wait(30)  # the sender gave up long before
                    return
                if isinstance(step, tuple):  # (302, "http://elsewhere/")
                    self.send_response(step[0])
                    self.send_header("Location", step[1])
                else:
                    self.send_response(step)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def bodies(self):
        with self.lock:
            return [body for _, body in self.received]


class SmtpSink:
    """aiosmtpd on a free local port; ``messages`` holds each mail as an EmailMessage."""

    def __init__(self):
        self.messages = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                message = message_from_bytes(envelope.content, policy=policy.default)
                sink.messages.append((list(envelope.rcpt_tos), message))
                return "250 OK"

        # aiosmtpd's start() connects to its port to check it is up: it needs a real one
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
