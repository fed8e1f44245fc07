"""Webhooks API: subscriptions (admin only, per tenant), SSRF refusal, bad input as problem+json, the pull API
with its cursor, and the audit entries of subscription changes."""

from __future__ import annotations

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from rathaus.events.models import AuditEntry, OutboxEvent
from rathaus.events.services import record_change
from rathaus.tenants.models import Membership

LOOPBACK = "http://127.0.0.1:9/hook"


@pytest.fixture
def admin(api, settings):
    settings.RATHAUS_WEBHOOKS_ALLOW_PRIVATE = True
    return api("admin")


def test_create_shows_the_generated_secret_once_and_lists_without_it(admin):
    r = admin.post("/api/v1/webhooks", {"url": LOOPBACK, "events": ["case.submitted", "receivable.*"]})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["secret"].startswith("whsec_") and body["active"] is True
    assert body["events"] == ["case.submitted", "receivable.*"]
    Webhook(body["secret"])  # a valid Standard Webhooks secret
    sid = body["id"]
    assert admin.get(f"/api/v1/webhooks/{sid}").json()["secret"] is None
    assert [s["id"] for s in admin.get("/api/v1/webhooks").json()] == [sid]
    assert AuditEntry.objects.filter(action="webhook.created", object_id=str(sid)).exists()
    assert body["secret"] not in str(AuditEntry.objects.get(action="webhook.created", object_id=str(sid)).data)

    r = admin.client.patch(f"/api/v1/webhooks/{sid}", data={"active": False}, content_type="application/json",
                           **admin.headers)
    assert r.status_code == 200 and r.json()["active"] is False
    assert AuditEntry.objects.filter(action="webhook.changed", object_id=str(sid)).exists()
    r = admin.client.delete(f"/api/v1/webhooks/{sid}", **admin.headers)
    assert r.status_code == 204
    assert admin.get(f"/api/v1/webhooks/{sid}").status_code == 404
    assert AuditEntry.objects.filter(action="webhook.deleted", object_id=str(sid)).exists()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "https://127.0.0.1/hook", "https://10.0.0.8/", "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/", "https://[::ffff:127.0.0.1]/",
    "https://[fe80::1]/", "https://localhost/hook", "https://0.0.0.0/", "http://example.org/hook",
])
def test_private_loopback_link_local_and_plain_http_are_refused(api, url):
    r = api("admin").post("/api/v1/webhooks", {"url": url})
    assert r.status_code == 422, (url, r.content)
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["pointer"] == "/url"


@pytest.mark.parametrize("body,status", [
    ({"url": "ftp://example.org/"}, 422), ({"url": "https://"}, 422), ({"url": "https://exa mple.org/"}, 422),
    ({"url": "https://user:pw@example.org/"}, 422), ({"url": "https://x.invalid/\x00"}, 422),
    ({"url": "https://" + "a" * 5000 + ".org/"}, 422), ({"url": LOOPBACK, "events": ["nonsense"]}, 422),
    ({"url": LOOPBACK, "events": ["case.submitted", "foo.bar"]}, 422), ({"url": LOOPBACK, "events": "case.*"}, 422),
    ({"url": LOOPBACK, "secret": "geheim"}, 422), ({"url": LOOPBACK, "secret": "whsec_AAAA"}, 422),
    ({"url": 5}, 422), ({}, 422),
])
def test_bad_input_is_a_problem_never_a_500(admin, body, status):
    r = admin.post("/api/v1/webhooks", body)
    assert r.status_code == status, (body, r.content)
    assert r["Content-Type"] == "application/problem+json"


def test_huge_body_and_not_json(admin):
    assert admin.post("/api/v1/webhooks", raw=b'{"url": "' + b"a" * (3 * 1024 * 1024) + b'"}').status_code == 413
    assert admin.post("/api/v1/webhooks", raw=b"{nope").status_code == 400


def test_roles_and_tenant_isolation(api, admin):
    sid = admin.post("/api/v1/webhooks", {"url": LOOPBACK}).json()["id"]
    for user in ("sachbearbeitung", "kasse", "kaemmerei"):
        assert api(user).get("/api/v1/webhooks").status_code == 403
        assert api(user).post("/api/v1/webhooks", {"url": LOOPBACK}).status_code == 403
    assert api().get("/api/v1/webhooks").status_code == 401
    m = Membership.objects.get(user__username="bh-kasse")
    m.roles = [*m.roles, "admin"]
    m.save()
    other = api("bh-kasse")
    assert other.get(f"/api/v1/webhooks/{sid}").status_code == 404
    assert other.get(f"/api/v1/webhooks/{sid}/deliveries").status_code == 404
    assert other.post(f"/api/v1/webhooks/{sid}/redeliver", {"failed": True}).status_code == 404
    assert other.get("/api/v1/webhooks").json() == []
    assert admin.get(f"/api/v1/webhooks/{sid}/deliveries").json() == []
    assert admin.post(f"/api/v1/webhooks/{sid}/redeliver", {}).status_code == 422
    assert admin.post(f"/api/v1/webhooks/{sid}/redeliver", {"failed": True}).json() == {"redelivered": 0}


def test_pull_api_pages_the_tenants_events_in_order(api, seeded):
    t = seeded["musterstadt"]
    start = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for i in range(5):
        with transaction.atomic():
            record_change(tenant=t, actor="test", action="case.status_changed", object_type="case", object_id="p1",
                          data={"reference": "GEW-2026-000001", "i": i}, event_type="case.status_changed")
    with transaction.atomic():
        record_change(tenant=seeded["beispielhausen"], actor="test", action="case.status_changed",
                      object_type="case", object_id="other", data={}, event_type="case.status_changed")
    kasse = api("kasse")
    got, cursor = [], str(start)
    for _ in range(5):
        r = kasse.get("/api/v1/events", after=cursor, limit=2)
        assert r.status_code == 200, r.content
        page = r.json()
        if not page["events"]:
            assert page["next"] == cursor
            break
        got += page["events"]
        cursor = page["next"]
    assert [e["data"]["i"] for e in got] == [0, 1, 2, 3, 4]
    assert all(e["specversion"] == "1.0" and e["type"] == "de.rathaus.case.status_changed" for e in got)
    assert got[0]["subject"] == "GEW-2026-000001" and int(got[0]["id"]) > start
    assert api("sachbearbeitung").get("/api/v1/events").status_code == 403
    assert kasse.get("/api/v1/events", limit=5000).status_code == 422
    assert kasse.get("/api/v1/events", after=-1).status_code == 422
