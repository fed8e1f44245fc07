"""Webhook delivery for real: outbox events through the pump task, run by `rathaus worker --burst` (the database
backend's worker; one test on RQ with Redis), to an HTTP receiver on loopback that fails and recovers."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from rathaus.demo.receivers import Receiver
from rathaus.events.models import OutboxEvent
from rathaus.events.services import record_change
from rathaus.webhooks import services
from rathaus.webhooks.models import Delivery, Subscription

from .conftest import TESTDIENST_EXAMPLE, ApiClient

# PostgreSQL: real commits (the worker closes and reopens connections between tasks); SQLite: the test's
# transaction (flushing after a transactional test would delete audit entries, which SQLite's triggers refuse)
if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    @pytest.fixture
    def tenants(seeded_tx):
        return seeded_tx
else:
    @pytest.fixture
    def tenants(seeded):
        return seeded


@pytest.fixture
def hooks(settings, tenants):
    seeded = tenants
    settings.RATHAUS_WEBHOOKS_ALLOW_PRIVATE = True
    settings.RATHAUS_WEBHOOKS_RETRY_SCHEDULE = [0.3, 0.3, 0.3]
    settings.RATHAUS_WEBHOOKS_POLL_SECONDS = 30  # a burst ends when the pump waits for the next poll
    Subscription.objects.update(active=False)  # the demo's own receivers are not part of these tests
    OutboxEvent.objects.filter(published_at__isnull=True).update(published_at="2026-01-01T00:00:00Z")
    receivers = []

    def receiver(**kw) -> Receiver:
        r = Receiver(secret=services.new_secret(), **kw).start()
        receivers.append(r)
        return r

    yield seeded, receiver
    for r in receivers:
        r.stop()


class InProcessWorker:
    """RQ's SimpleWorker (the job runs in this process, so it sees the test's database), without the pubsub
    channel for remote commands: closing it after a burst waits up to a minute in redis-py."""

    def __new__(cls, *args, **kwargs):
        from rq.worker import SimpleWorker

        class Quiet(SimpleWorker):
            def subscribe(self):
                pass

            def unsubscribe(self):
                pass

        return Quiet(*args, **kwargs)


def subscribe(tenant, rcv: Receiver, events=None) -> Subscription:
    return services.create_subscription(tenant, actor="test", url=rcv.url, events=events, secret=rcv.secret)


def emit(tenant, aggregate: str, n: int, kind: str = "case") -> list[int]:
    ids = []
    for i in range(n):
        with transaction.atomic():
            record_change(tenant=tenant, actor="test", action=f"{kind}.status_changed", object_type=kind,
                          object_id=aggregate, data={"step": i}, event_type=f"{kind}.status_changed")
        ids.append(OutboxEvent.objects.latest("id").id)
    return ids


def burst(rounds: int = 1, pause: float = 0.0, until=None) -> None:
    for _ in range(rounds):
        call_command("worker", "--burst", verbosity=0)
        if until is not None and until():
            return
        time.sleep(pause)


def test_receiver_down_then_up_nothing_lost_in_order_same_ids(hooks):
    tenants, receiver = hooks
    t = tenants["musterstadt"]
    rcv = receiver()
    sub = subscribe(t, rcv)
    sent = {agg: emit(t, agg, 4) for agg in ("a1", "a2", "a3")}
    submitted = ApiClient().post("/api/v1/submissions?tenant=musterstadt",
                                 {"service": "testdienst", "data": dict(TESTDIENST_EXAMPLE)})
    assert submitted.status_code == 201, submitted.content
    reference = submitted.json()["reference"]

    rcv.failing = True
    burst()
    assert rcv.seen and not rcv.requests
    assert set(Delivery.objects.filter(subscription=sub).values_list("status", flat=True)) == {"pending"}
    rcv.failing = False
    burst(rounds=20, pause=0.2, until=lambda: not Delivery.objects.filter(subscription=sub, status="pending").exists())

    events = rcv.events()
    all_ids = {e for ids in sent.values() for e in ids} | set(
        OutboxEvent.objects.filter(tenant=t, type="case.submitted").values_list("id", flat=True))
    got = [int(e["id"]) for e in events]
    assert set(got) == all_ids  # nothing lost
    by_subject = defaultdict(list)
    for e in events:
        by_subject[e["subject"]].append(int(e["id"]))
    for agg, ids in sent.items():
        first_seen = list(dict.fromkeys(by_subject[f"case/{agg}"]))
        assert first_seen == ids  # in order per aggregate
    # the retries carried the same id: every id the failing receiver saw came back and was delivered
    assert set(rcv.seen) <= {str(i) for i in all_ids}
    case_event = next(e for e in events if e["type"] == "de.rathaus.case.submitted")
    assert case_event["subject"] == reference
    assert case_event["specversion"] == "1.0" and case_event["source"] == services.source_of(t)
    assert case_event["data"]["reference"] == reference
    req = rcv.requests[0]
    assert Webhook(sub.secret).verify(req["body"], req["headers"])["id"] == req["headers"]["webhook-id"]
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["content-type"].startswith("application/cloudevents+json")
    d = Delivery.objects.filter(subscription=sub).order_by("id").first()
    assert d.status == "delivered" and d.attempts >= 2 and d.last_status_code == 204
    assert d.last_duration_ms is not None
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


def test_failing_aggregate_holds_back_only_itself_then_dead_letter_and_redelivery(hooks):
    tenants, receiver = hooks
    t = tenants["musterstadt"]
    rcv = receiver()
    sub = subscribe(t, rcv, events=["case.*"])
    bad = emit(t, "bad", 3)
    good = emit(t, "good", 3)
    emit(t, "x", 1, kind="task")  # not subscribed: no delivery
    rcv.fail_subjects = {"case/bad"}
    burst(rounds=30, pause=0.2, until=lambda: Delivery.objects.filter(subscription=sub, status="dead").exists())

    assert [int(e["id"]) for e in rcv.events()] == good
    head = Delivery.objects.get(subscription=sub, event_id=bad[0])
    assert head.status == "dead" and head.attempts == 4 and head.last_status_code == 500  # 1 + 3 retries
    assert rcv.seen.count(str(bad[0])) == 4
    assert not Delivery.objects.filter(event_type__startswith="task.").exists()
    # after the dead letter the aggregate goes on with its next events (they fail the same way here)
    burst(rounds=40, pause=0.2, until=lambda: Delivery.objects.filter(subscription=sub, status="dead").count() == 3)
    assert Delivery.objects.filter(subscription=sub, status="dead").count() == 3

    rcv.fail_subjects = set()
    assert services.redeliver(sub, actor="test", failed=True) == 3
    burst(rounds=10, pause=0.2, until=lambda: not Delivery.objects.filter(subscription=sub, status="pending").exists())
    assert [int(e["id"]) for e in rcv.events()] == good + bad  # redelivered in order, same ids
    assert Delivery.objects.filter(subscription=sub, status="delivered").count() == 6


def test_refused_at_delivery_time_when_private_addresses_are_no_longer_allowed(hooks, settings):
    tenants, receiver = hooks
    t = tenants["musterstadt"]
    rcv = receiver()
    sub = subscribe(t, rcv)
    emit(t, "c1", 1)
    settings.RATHAUS_WEBHOOKS_ALLOW_PRIVATE = False
    burst()
    d = Delivery.objects.get(subscription=sub)
    assert d.status == "pending" and d.attempts == 1 and "nicht öffentlichen" in d.last_error
    assert rcv.seen == []


@pytest.mark.skipif(os.environ.get("RATHAUS_SKIP_REDIS") == "1", reason="no Redis")
def test_round_trip_on_rq(hooks, settings):
    """The same pump on django-tasks-rq: enqueued into Redis, run by RQ's worker (burst, with its scheduler)."""
    import django_rq
    import redis

    url = os.environ.get("RATHAUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running")
    settings.RQ_QUEUES = {"default": {"URL": url, "DEFAULT_TIMEOUT": 60}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RATHAUS_RQ_WORKER_CLASS = "tests.test_webhooks_delivery.InProcessWorker"
    django_rq.get_queue("default").empty()
    tenants, receiver = hooks
    t = tenants["musterstadt"]
    rcv = receiver()
    sub = subscribe(t, rcv)
    ids = emit(t, "rq1", 3)
    rcv.failing = True
    burst()
    assert set(rcv.seen) == {str(ids[0])}
    rcv.failing = False
    time.sleep(0.5)
    burst(rounds=10, pause=0.3, until=lambda: not Delivery.objects.filter(subscription=sub, status="pending").exists())
    assert [int(e["id"]) for e in rcv.events()] == ids
    assert json.loads(rcv.requests[0]["body"])["id"] == str(ids[0])
    django_rq.get_queue("default").empty()


def test_case_page_of_a_gewerbeanzeige_shows_where_it_was_forwarded(hooks):
    from django.test import Client

    from rathaus.catalog.services import demo_package_dirs
    from rathaus.demo.seed import DEMO_PASSWORD

    tenants, receiver = hooks
    rcv = receiver()
    sub = services.create_subscription(tenants["musterstadt"], actor="test", url=rcv.url, secret=rcv.secret,
                                       name="Finanzamt Musterstadt", events=["case.submitted"])
    pkg = next(d for d in demo_package_dirs() if d.name == "gewerbeanmeldung")
    example = json.loads((pkg / "form.schema.json").read_text(encoding="utf-8"))["examples"][0]
    r = ApiClient().post("/api/v1/submissions?tenant=musterstadt", {"service": "gewerbeanmeldung", "data": example})
    assert r.status_code == 201, r.content
    burst(rounds=5, pause=0.2, until=lambda: Delivery.objects.filter(subscription=sub, status="delivered").exists())
    assert rcv.events()[0]["subject"] == r.json()["reference"]
    c = Client(HTTP_HOST="localhost")
    assert c.login(username="admin", password=DEMO_PASSWORD)
    html = c.get(f"/sachbearbeitung/vorgaenge/{r.json()['id']}/").content.decode()
    assert "Weitergeleitet an Partner (Webhooks)" in html
    assert "Finanzamt Musterstadt: Antrag eingegangen, zugestellt" in html and "case.submitted" not in html
