"""The webhooks staff page (admin): list, create (secret shown once), deactivate, deliveries with status,
redelivery, delete; German first, English from the catalog; other roles and tenants are kept out."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from rathaus.demo.seed import DEMO_PASSWORD
from rathaus.events.models import AuditEntry
from rathaus.webhooks.models import Delivery, Subscription


@pytest.fixture(autouse=True)
def _german_afterwards():
    yield
    translation.activate(settings.LANGUAGE_CODE)


def staff(username: str, **headers) -> Client:
    c = Client(HTTP_HOST="localhost", **headers)
    assert c.login(username=username, password=DEMO_PASSWORD)
    return c


def test_admin_creates_deactivates_redelivers_and_deletes(seeded, settings):
    settings.RATHAUS_WEBHOOKS_ALLOW_PRIVATE = True
    c = staff("admin")
    html = c.get("/verwaltung/webhooks/").content.decode()
    assert "<h1>Webhooks</h1>" in html and "Neuer Webhook" in html
    r = c.post("/verwaltung/webhooks/", {"name": "Finanzamt", "url": "http://127.0.0.1:9/hook",
                                         "events": "case.submitted, notice.*"})
    assert r.status_code == 200
    html = r.content.decode()
    secret = re.search(r"<code>(whsec_[^<]+)</code>", html).group(1)
    sub = Subscription.objects.get(name="Finanzamt")
    assert sub.secret == secret and sub.event_types == ["case.submitted", "notice.*"]
    assert secret not in c.get("/verwaltung/webhooks/").content.decode()  # shown once

    Delivery.objects.create(subscription=sub, event_id=1, event_type="case.submitted", aggregate="case:1",
                            status="dead", attempts=12, next_attempt_at="2026-01-01T00:00:00Z",
                            last_status_code=503, last_duration_ms=12, last_error="Antwort 503")
    html = c.get(f"/verwaltung/webhooks/{sub.pk}/").content.decode()
    assert "aufgegeben" in html and "503" in html and "case:1" in html
    r = c.post(f"/verwaltung/webhooks/{sub.pk}/aktion/", {"action": "redeliver"}, follow=True)
    assert "1 aufgegebene Zustellungen werden erneut versucht." in r.content.decode()
    assert Delivery.objects.get(subscription=sub).status == "pending"
    assert AuditEntry.objects.get(action="webhook.redelivered", object_id=str(sub.pk)).data["deliveries"] == 1
    c.post(f"/verwaltung/webhooks/{sub.pk}/aktion/", {"action": "deactivate"})
    sub.refresh_from_db()
    assert not sub.active
    assert AuditEntry.objects.filter(action="webhook.changed", object_id=str(sub.pk)).exists()
    c.post(f"/verwaltung/webhooks/{sub.pk}/aktion/", {"action": "delete"})
    assert not Subscription.objects.filter(pk=sub.pk).exists()


def test_refused_address_is_a_form_error_not_a_500(seeded):
    r = staff("admin").post("/verwaltung/webhooks/", {"url": "https://169.254.169.254/", "events": ""})
    assert r.status_code == 422 and "nicht öffentlichen Adresse" in r.content.decode()
    r = staff("admin").post("/verwaltung/webhooks/", {"url": "https://example.org/\x00", "events": "foo.bar"})
    assert r.status_code == 422
    assert not Subscription.objects.filter(tenant=seeded["musterstadt"], url__contains="169.254").exists()


def test_in_english(seeded):
    html = staff("admin", HTTP_ACCEPT_LANGUAGE="en").get("/verwaltung/webhooks/").content.decode()
    assert "New webhook" in html and "Event types (empty: all)" in html


def test_other_roles_and_tenants_are_kept_out(seeded, settings):
    settings.RATHAUS_WEBHOOKS_ALLOW_PRIVATE = True
    from rathaus.webhooks.services import create_subscription

    sub = create_subscription(seeded["musterstadt"], actor="t", url="http://127.0.0.1:9/hook")
    assert staff("kasse").get("/verwaltung/webhooks/").status_code == 403
    assert "/verwaltung/webhooks/" not in staff("kasse").get("/kasse/").content.decode()
    assert "/verwaltung/webhooks/" in staff("admin").get("/sachbearbeitung/").content.decode()
    from rathaus.tenants.models import Membership

    m = Membership.objects.get(user__username="bh-kasse")
    m.roles = [*m.roles, "admin"]
    m.save()
    other = Client(HTTP_HOST="localhost")
    assert other.login(username="bh-kasse", password=DEMO_PASSWORD)
    assert other.get(f"/verwaltung/webhooks/{sub.pk}/?tenant=beispielhausen").status_code in (403, 404)
    assert other.post(f"/verwaltung/webhooks/{sub.pk}/aktion/?tenant=beispielhausen",
                      {"action": "delete"}).status_code in (403, 404)
    assert Subscription.objects.filter(pk=sub.pk).exists()
    assert Client().get("/verwaltung/webhooks/").status_code == 302  # to the login


def test_the_list_counts_deliveries_by_status(seeded, settings):
    """Counted by the database per subscription and status (the list must not load the delivery log)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from rathaus.webhooks import services

    settings.RATHAUS_WEBHOOKS_ALLOW_PRIVATE = True
    t = seeded["musterstadt"]
    a = services.create_subscription(t, actor="test", url="http://127.0.0.1:9/a", name="A")
    b = services.create_subscription(t, actor="test", url="http://127.0.0.1:9/b", name="B")
    for i, (sub, status) in enumerate([(a, Delivery.DELIVERED)] * 3 + [(a, Delivery.DEAD), (b, Delivery.PENDING)]):
        Delivery.objects.create(subscription=sub, event_id=1000 + i, event_type="case.submitted",
                                aggregate="case:1", status=status, next_attempt_at=timezone.now())
    with CaptureQueriesContext(connection) as q:
        counts = services.delivery_counts([a, b])
    assert counts == {a.pk: {"delivered": 3, "dead": 1}, b.pk: {"pending": 1}} and len(q) == 1
    html = staff("admin").get("/verwaltung/webhooks/").content.decode()
    assert re.search(r"A</.*?<td class=\"num\">3</td><td class=\"num\">0</td><td class=\"num\">1</td>", html, re.S)
