"""Sending one delivery: the outbox event as a CloudEvents 1.0 structured JSON document, signed per Standard
Webhooks, POSTed with timeouts over a kept-alive connection; the outcome for the delivery log.

No database here: `send` takes the subscription's URL and secret and the event, and returns an `Outcome`;
`webhooks.services` decides what the outcome means for the delivery (delivered, retry at, dead).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from .security import UrlRefused, guarded_connection, split_url

TYPE_PREFIX = "de.rathaus."
KEEP_BYTES = 1024  # of a receiver's answer, for the log
READ_AT_MOST = 64 * 1024  # more and the connection is closed instead of drained
USER_AGENT = "rathaus-webhooks/1"
# default retry schedule in seconds after the 1st, 2nd … failed attempt (about 31 hours in all); then dead
DEFAULT_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)


def cloud_event(*, event_id: int, event_type: str, source: str, subject: str, time_: datetime, data) -> CloudEvent:
    return CloudEvent({"id": str(event_id), "source": source, "type": TYPE_PREFIX + event_type,
                       "subject": subject, "time": time_, "datacontenttype": "application/json"}, data)


def event_document(event: CloudEvent) -> dict:
    """The structured JSON form as a dict (for the pull API's list)."""
    return json.loads(JSONFormat().write(event))


def subject_of(aggregate_type: str, aggregate_id: str, payload) -> str:
    """The aggregate as the receiver knows it: a case by its Aktenzeichen (if the event has it)."""
    if isinstance(payload, dict) and isinstance(payload.get("reference"), str) and payload["reference"]:
        return payload["reference"]
    return f"{aggregate_type}/{aggregate_id}"


def retry_schedule() -> tuple[float, ...]:
    return tuple(getattr(settings, "RATHAUS_WEBHOOKS_RETRY_SCHEDULE", None) or DEFAULT_SCHEDULE)


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed attempts (exponential steps of the schedule, ±20 % jitter so
    many failing deliveries do not come back at the same moment), or None: the schedule is used up."""
    schedule = retry_schedule()
    if attempts > len(schedule):
        return None
    return now + timedelta(seconds=schedule[attempts - 1] * random.uniform(0.8, 1.2))  # noqa: S311


@dataclass
class Outcome:
    ok: bool
    status: int | None = None
    duration_ms: int = 0
    response: str = ""
    error: str = ""


_local = threading.local()


def _connection(scheme: str, host: str, port: int) -> http.client.HTTPConnection:
    """This thread's kept-alive connection to (scheme, host, port); opened on first use."""
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    key = (scheme, host, port)
    conn = conns.get(key)
    if conn is None:
        timeout = getattr(settings, "RATHAUS_WEBHOOKS_CONNECT_TIMEOUT", 3.0)
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        conn = cls(host, port, timeout=timeout)
        conn._create_connection = guarded_connection(scheme)  # resolve, check (SSRF), connect to that address
        conns[key] = conn
    return conn


def _drop(scheme: str, host: str, port: int) -> None:
    conn = getattr(_local, "conns", {}).pop((scheme, host, port), None)
    if conn is not None:
        conn.close()


def send(url: str, secret: str, event: CloudEvent) -> Outcome:
    """POST the event to `url`; 2xx acknowledges. Never raises for the receiver's faults."""
    message = to_structured_event(event)
    body = message.body
    now = datetime.now(UTC)
    msg_id = event.get_id()
    headers = {**message.headers, "User-Agent": USER_AGENT, "webhook-id": msg_id,
               "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, now, body),
               "Content-Length": str(len(body))}
    try:
        scheme, host, port = split_url(url)
    except UrlRefused as e:
        return Outcome(False, error=str(e)[:300])
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    read_timeout = getattr(settings, "RATHAUS_WEBHOOKS_READ_TIMEOUT", 5.0)
    start = time.monotonic()
    for fresh in (False, True):  # a kept-alive connection the receiver closed meanwhile: once more, anew
        conn = _connection(scheme, host, port)
        try:
            if conn.sock is None:
                conn.connect()
            conn.sock.settimeout(read_timeout)
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(READ_AT_MOST + 1)
            if len(data) > READ_AT_MOST or resp.will_close:
                _drop(scheme, host, port)
            ms = int((time.monotonic() - start) * 1000)
            text = data[:KEEP_BYTES].decode("utf-8", "replace")[:KEEP_BYTES]
            while len(text.encode()) > KEEP_BYTES:
                text = text[:-1]
            return Outcome(200 <= resp.status < 300, resp.status, ms, text,
                           "" if 200 <= resp.status < 300 else f"Antwort {resp.status}")
        except UrlRefused as e:
            _drop(scheme, host, port)
            return Outcome(False, duration_ms=int((time.monotonic() - start) * 1000), error=str(e)[:300])
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
            _drop(scheme, host, port)
            if fresh:
                return Outcome(False, duration_ms=int((time.monotonic() - start) * 1000),
                               error=f"Verbindung abgebrochen ({type(e).__name__})")
        except TimeoutError:
            _drop(scheme, host, port)
            return Outcome(False, duration_ms=int((time.monotonic() - start) * 1000), error="Zeitüberschreitung")
        except (OSError, http.client.HTTPException) as e:
            _drop(scheme, host, port)
            return Outcome(False, duration_ms=int((time.monotonic() - start) * 1000),
                           error=f"Keine Verbindung ({type(e).__name__}: {e})"[:300])
    raise AssertionError("unreachable")
