"""Webhooks: subscriptions (audited), the fan-out of outbox events into deliveries, and delivering them.

- `fan_out`: the oldest unpublished outbox events (by id, in batches) become one `Delivery` per matching active
  subscription of their tenant; the events are marked published in the same transaction. The unique
  (subscription, event) makes a repeated fan-out harmless, so nothing is lost and nothing doubled.
- `deliver_due`: the due deliveries, a batch at a time; the deliveries of one aggregate (per subscription) go out
  one after the other in event order, different aggregates in parallel on a small thread pool. A failed
  delivery waits for its retry (exponential, with jitter) and holds back the later events of its aggregate only;
  after the last attempt of the schedule it is dead (dead letter) and the aggregate's next event goes on.
- `redeliver`: dead or all deliveries since a time go out again (same event id).

Both are called by the pump task (`webhooks.tasks`); each is idempotent and safe to run again after a crash.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from rathaus.core.errors import Invalid
from rathaus.events import outbox
from rathaus.events.services import record_change

from . import delivery as send_
from .models import Delivery, Subscription
from .security import UrlRefused, check_url

# the event families rathaus writes (events.OutboxEvent.type is "<family>.<what>")
FAMILIES = ("case", "task", "notice", "receivable", "payable", "payment_run", "bank_statement", "einvoice",
            "ledger", "service")
_TYPE = re.compile(r"^([a-z_]{1,30})\.(\*|[a-z_]{1,50})$")
MAX_TYPES = 50


# --------------------------------------------------------------------------- subscriptions

def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def clean_secret(secret: str) -> str:
    if not isinstance(secret, str) or not secret.startswith("whsec_") or len(secret) > 200:
        raise Invalid("Das Geheimnis muss die Form whsec_<Base64> haben.",
                      errors=[{"pointer": "/secret", "message": "Erwartet: whsec_<Base64>, 24 bis 64 Byte."}])
    try:
        raw = base64.b64decode(secret[len("whsec_"):], validate=True)
    except ValueError:
        raw = b""
    if not 24 <= len(raw) <= 64:
        raise Invalid("Das Geheimnis muss die Form whsec_<Base64> haben.",
                      errors=[{"pointer": "/secret", "message": "Erwartet: whsec_<Base64>, 24 bis 64 Byte."}])
    return secret


def clean_types(types) -> list[str]:
    if not isinstance(types, list) or len(types) > MAX_TYPES:
        raise Invalid(errors=[{"pointer": "/events", "message": f"Erwartet: Liste von höchstens {MAX_TYPES} Ereignisarten."}])
    out = []
    for i, t in enumerate(types):
        m = _TYPE.match(t) if isinstance(t, str) else None
        if not m or m.group(1) not in FAMILIES:
            raise Invalid("Unbekannte Ereignisart.", errors=[{
                "pointer": f"/events/{i}",
                "message": f"Unbekannt; erlaubt sind <Art>.<Ereignis> oder <Art>.* mit Art aus {', '.join(FAMILIES)}."}])
        if t not in out:
            out.append(t)
    return out


def clean_url(url) -> str:
    try:
        check_url(url)
    except UrlRefused as e:
        raise Invalid(str(e), errors=[{"pointer": "/url", "message": str(e)}]) from e
    return url


def _audit(sub: Subscription, actor: str, action: str, **data) -> None:
    record_change(tenant=sub.tenant, actor=actor, action=action, object_type="webhook", object_id=sub.pk,
                  data={"url": sub.url, "events": sub.event_types, "active": sub.active, **data})


def create_subscription(tenant, *, actor: str, url: str, events=None, secret: str | None = None,
                        name: str = "") -> Subscription:
    """A new subscription (secret generated unless given); audited."""
    sub = Subscription(tenant=tenant, url=clean_url(url), event_types=clean_types(events or []),
                       secret=clean_secret(secret) if secret is not None else new_secret(), name=name[:200])
    with transaction.atomic():
        sub.save()
        _audit(sub, actor, "webhook.created")
    return sub


def update_subscription(sub: Subscription, *, actor: str, **changes) -> Subscription:
    """Change url, events, secret, active or name; audited (the secret itself is never logged)."""
    if "url" in changes:
        sub.url = clean_url(changes["url"])
    if "events" in changes:
        sub.event_types = clean_types(changes["events"] or [])
    if "secret" in changes:
        sub.secret = clean_secret(changes["secret"])
    if "active" in changes:
        sub.active = bool(changes["active"])
    if "name" in changes:
        sub.name = str(changes["name"])[:200]
    with transaction.atomic():
        sub.save()
        _audit(sub, actor, "webhook.changed", changed=sorted(changes))
    return sub


def delete_subscription(sub: Subscription, *, actor: str) -> None:
    with transaction.atomic():
        _audit(sub, actor, "webhook.deleted")
        sub.delete()


def redeliver(sub: Subscription, *, actor: str, failed: bool = False, since: datetime | None = None) -> int:
    """Send dead deliveries (`failed`) or all deliveries since a time once more, from now on (same event id,
    a fresh retry schedule); audited once; returns how many."""
    qs = Delivery.objects.filter(subscription=sub)
    if failed:
        qs = qs.filter(status=Delivery.DEAD)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    with transaction.atomic():
        n = qs.update(status=Delivery.PENDING, attempts=0, next_attempt_at=timezone.now(), delivered_at=None)
        _audit(sub, actor, "webhook.redelivered", failed=failed, since=since.isoformat() if since else None,
               deliveries=n)
    return n


# --------------------------------------------------------------------------- fan-out

def fan_out(limit: int = 1000) -> int:
    """One batch of unpublished outbox events into deliveries; returns the number of events handled."""
    with transaction.atomic():
        events = outbox.unpublished(limit)
        if not events:
            return 0
        subs = defaultdict(list)
        for sub in Subscription.objects.filter(tenant_id__in={e.tenant_id for e in events}, active=True):
            subs[sub.tenant_id].append(sub)
        now = timezone.now()
        rows = [Delivery(subscription=sub, event_id=e.id, event_type=e.type[:100],
                         aggregate=f"{e.aggregate_type}:{e.aggregate_id}"[:120], next_attempt_at=now)
                for e in events for sub in subs.get(e.tenant_id, ()) if sub.wants(e.type)]
        Delivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        outbox.mark_published([e.id for e in events], at=now)
    return len(events)


# --------------------------------------------------------------------------- delivery

def due(limit: int, now=None) -> list[Delivery]:
    """Pending deliveries that are due and not held back by an earlier pending event of the same aggregate
    that waits for its retry; by id (so an aggregate's events come in order)."""
    now = now or timezone.now()
    waiting_before = Delivery.objects.filter(subscription_id=OuterRef("subscription_id"),
                                             aggregate=OuterRef("aggregate"), status=Delivery.PENDING,
                                             id__lt=OuterRef("id"), next_attempt_at__gt=now)
    return list(Delivery.objects.filter(status=Delivery.PENDING, next_attempt_at__lte=now,
                                        subscription__active=True)
                .exclude(Exists(waiting_before)).select_related("subscription", "subscription__tenant")
                .order_by("id")[:limit])


def source_of(tenant) -> str:
    """The CloudEvents `source`: the tenant's own address."""
    if tenant.hostnames:
        return f"https://{tenant.hostnames[0]}/"
    base = getattr(settings, "RATHAUS_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/?tenant={tenant.slug}"


def as_cloud_event(event, tenant):
    return send_.cloud_event(event_id=event.id, event_type=event.type, source=source_of(tenant),
                             subject=send_.subject_of(event.aggregate_type, event.aggregate_id, event.payload),
                             time_=event.created_at, data=event.payload)


def event_document(event, tenant) -> dict:
    """An outbox event as the CloudEvents structured JSON document (the pull API's entries)."""
    return send_.event_document(as_cloud_event(event, tenant))


_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=getattr(settings, "RATHAUS_WEBHOOKS_THREADS", 16),
                                   thread_name_prefix="webhook")
    return _pool


def _send_chain(chain: list[tuple[Delivery, object]]) -> list[tuple[Delivery, send_.Outcome, datetime]]:
    """One aggregate's deliveries in order; stops at the first failure (the rest wait for it)."""
    done = []
    for d, ev in chain:
        if ev is None:  # the outbox row is gone: nothing to send, ever
            done.append((d, send_.Outcome(False, error="Ereignis nicht mehr vorhanden"), timezone.now()))
            break
        outcome = send_.send(d.subscription.url, d.subscription.secret, ev)
        done.append((d, outcome, timezone.now()))
        if not outcome.ok:
            break
    return done


def deliver_due(limit: int = 500) -> int:
    """Deliver one batch of due deliveries; returns how many were attempted."""
    batch = due(limit)
    if not batch:
        return 0
    events = outbox.by_ids([d.event_id for d in batch])
    chains: dict[tuple, list] = defaultdict(list)
    for d in batch:
        ev = events.get(d.event_id)
        chains[(d.subscription_id, d.aggregate)].append(
            (d, as_cloud_event(ev, d.subscription.tenant) if ev is not None else None))
    results = [r for chain in _executor().map(_send_chain, chains.values()) for r in chain]
    for d, outcome, at in results:
        d.attempts += 1
        d.last_attempt_at = at
        d.last_status_code = outcome.status
        d.last_duration_ms = outcome.duration_ms
        d.last_response = outcome.response
        d.last_error = outcome.error
        if outcome.ok:
            d.status, d.delivered_at = Delivery.DELIVERED, at
        else:
            retry = send_.next_attempt(d.attempts, at) if d.event_id in events else None
            if retry is None:
                d.status = Delivery.DEAD
            else:
                d.next_attempt_at = retry
    _store([r[0] for r in results])
    return len(results)


_LOG_FIELDS = ("attempts", "last_attempt_at", "last_status_code", "last_duration_ms", "last_response", "last_error",
               "status", "delivered_at", "next_attempt_at")
_PG_TYPES = {"attempts": "integer", "last_attempt_at": "timestamptz", "last_status_code": "integer",
             "last_duration_ms": "integer", "last_response": "text", "last_error": "text", "status": "text",
             "delivered_at": "timestamptz", "next_attempt_at": "timestamptz"}


def _store(deliveries: list[Delivery], chunk: int = 500) -> None:
    """Write the outcome of many deliveries in one UPDATE ... FROM (VALUES ...) per chunk (the ORM's
    bulk_update builds a CASE per field and row, which cost more than the HTTP requests themselves)."""
    conn = connection
    table = conn.ops.quote_name(Delivery._meta.db_table)
    fields = [Delivery._meta.get_field(f) for f in _LOG_FIELDS]
    cols = ", ".join(conn.ops.quote_name(f.column) for f in fields)
    sets = ", ".join(f"{conn.ops.quote_name(f.column)} = v.{conn.ops.quote_name(f.column)}" for f in fields)
    pg = conn.vendor == "postgresql"
    cell = ["%s::bigint" if pg else "%s"] + [f"%s::{_PG_TYPES[f.name]}" if pg else "%s" for f in fields]
    row_sql = "(" + ", ".join(cell) + ")"
    with conn.cursor() as cur:
        for i in range(0, len(deliveries), chunk):
            part = deliveries[i:i + chunk]
            params = []
            for d in part:
                params.append(d.pk)
                params += [f.get_db_prep_save(getattr(d, f.attname), conn) for f in fields]
            cur.execute(f"WITH v(id, {cols}) AS (VALUES {', '.join([row_sql] * len(part))}) "
                        f"UPDATE {table} SET {sets} FROM v WHERE {table}.id = v.id", params)


def delivery_counts(subscriptions) -> dict[int, dict[str, int]]:
    """Per subscription the number of deliveries by status, counted by the database (one query, one row per
    subscription and status, whatever the size of the delivery log)."""
    counts: dict[int, dict[str, int]] = {}
    rows = (Delivery.objects.filter(subscription__in=subscriptions).values("subscription_id", "status")
            .annotate(n=Count("id")).order_by())
    for row in rows:
        counts.setdefault(row["subscription_id"], {})[row["status"]] = row["n"]
    return counts
