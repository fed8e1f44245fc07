"""Webhook receivers on loopback for the demo (one per agency of § 14 GewO) and for the tests.

A `Receiver` is a small threaded HTTP server: it keeps every request it gets (headers, body), answers 204 – or
503 while `failing` is set – and, given the subscription's secret, checks the Standard Webhooks signature
(401 if it does not match). `rathaus demo-receivers` starts the demo's agencies and prints what arrives.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# the agencies a Gewerbeanzeige goes to by § 14 GewO, on loopback ports of the demo
AGENCIES = [
    ("finanzamt", "Finanzamt Musterstadt", 8701),
    ("ihk", "IHK Musterstadt", 8702),
    ("statistik", "Statistisches Landesamt", 8703),
    ("gewerbeaufsicht", "Gewerbeaufsichtsamt", 8704),
]


class Receiver:
    def __init__(self, port: int = 0, secret: str | None = None, name: str = "", echo: bool = False,
                 path: str = "/hook"):
        self.secret, self.name, self.echo, self.path = secret, name, echo, path
        self.failing = False
        self.fail_subjects: set[str] = set()  # tests: fail only the events of these subjects
        self.seen: list[str] = []  # webhook-id of every request, also the refused ones
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the sender expects

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.handle(dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def handle(self, headers: dict, body: bytes) -> int:
        with self.lock:
            self.seen.append(headers.get("webhook-id", ""))
        if self.failing:
            return 503
        if self.fail_subjects and json.loads(body).get("subject") in self.fail_subjects:
            return 500
        verified = None
        if self.secret:
            try:
                verified = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                return 401
        with self.lock:
            self.requests.append({"headers": headers, "body": body, "event": verified or json.loads(body)})
        if self.echo:
            ev = self.requests[-1]["event"]
            sys.stdout.write(f"[{self.name}] {ev.get('type')} {ev.get('subject')} (Ereignis {ev.get('id')})\n")
            sys.stdout.flush()
        return 204

    def events(self) -> list[dict]:
        with self.lock:
            return [r["event"] for r in self.requests]

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
