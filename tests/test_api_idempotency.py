"""Idempotent submission: a retried request gets the first answer and opens no second case."""

import pytest

from rathaus.cases.models import Case, Task
from rathaus.events.models import AuditEntry

from .conftest import TESTDIENST_EXAMPLE

PROBLEM = "application/problem+json"
URL = "/api/v1/submissions?tenant=musterstadt"


def body(**changes):
    return {"service": "testdienst", "data": {**TESTDIENST_EXAMPLE, **changes}}


def test_same_key_same_body_replays_the_first_answer(api, seeded):
    client = api()
    first = client.post(URL, body(), HTTP_IDEMPOTENCY_KEY="abc-123")
    assert first.status_code == 201, first.content
    audit_before = AuditEntry.objects.count()
    for _ in range(2):
        again = client.post(URL, body(), HTTP_IDEMPOTENCY_KEY="abc-123")
        assert again.status_code == 200, again.content
        assert again.json() == first.json()
    one = first.json()
    assert {"id", "reference", "access_code"} <= set(one)
    cases = Case.objects.filter(tenant=seeded["musterstadt"], idempotency_key="abc-123")
    assert [c.pk for c in cases] == [one["id"]]
    assert Task.objects.filter(case_id=one["id"]).count() == 1
    assert AuditEntry.objects.count() == audit_before  # a replay changes nothing


def test_key_order_in_the_body_does_not_matter(api):
    client = api()
    first = client.post(URL, body(), HTTP_IDEMPOTENCY_KEY="order")
    reordered = {"data": dict(reversed(list(body()["data"].items()))), "service": "testdienst"}
    again = client.post(URL, reordered, HTTP_IDEMPOTENCY_KEY="order")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_same_key_different_body_is_409(api, seeded):
    client = api()
    first = client.post(URL, body(), HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    r = client.post(URL, body(vorname="Max"), HTTP_IDEMPOTENCY_KEY="k-1")
    assert r.status_code == 409, r.content
    assert r["Content-Type"] == PROBLEM
    assert r.json()["type"].endswith("idempotency-key-wiederverwendet")
    assert "access_code" not in r.json()  # never hand out the other application's access code
    assert Case.objects.filter(idempotency_key="k-1").count() == 1


def test_without_key_every_request_opens_a_case(api):
    client = api()
    a, b = client.post(URL, body()), client.post(URL, body())
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["reference"] != b.json()["reference"]


def test_keys_are_per_tenant(api):
    client = api()
    a = client.post(URL, body(), HTTP_IDEMPOTENCY_KEY="shared")
    b = client.post("/api/v1/submissions?tenant=beispielhausen", body(), HTTP_IDEMPOTENCY_KEY="shared")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_invalid_body_with_key_does_not_burn_the_key(api):
    client = api()
    bad = client.post(URL, body(email="x"), HTTP_IDEMPOTENCY_KEY="retry-me")
    assert bad.status_code == 422
    good = client.post(URL, body(), HTTP_IDEMPOTENCY_KEY="retry-me")
    assert good.status_code == 201


@pytest.mark.parametrize("key", ["", "   "])
def test_blank_key_is_422(api, key):
    r = api().post(URL, body(), HTTP_IDEMPOTENCY_KEY=key)
    assert r.status_code == 422 and r["Content-Type"] == PROBLEM
