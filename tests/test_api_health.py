"""Operations endpoints: health, OpenAPI document, interactive docs."""

import json

from django.db import connection

EXPECTED_OPERATIONS = {
    ("get", "/api/v1/health"), ("head", "/api/v1/health"),
    ("get", "/api/v1/services"),
    ("get", "/api/v1/services/{key}"),
    ("post", "/api/v1/submissions"),
    ("get", "/api/v1/submissions/{reference}"),
    ("get", "/api/v1/submissions/{reference}/documents/{doc_id}/content"),
    ("get", "/api/v1/tasks"),
    ("post", "/api/v1/tasks/{task_id}/claim"),
    ("post", "/api/v1/tasks/{task_id}/release"),
    ("post", "/api/v1/tasks/{task_id}/complete"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{case_id}"),
    ("get", "/api/v1/documents/{doc_id}/content"),
    ("get", "/api/v1/receivables"),
    ("get", "/api/v1/receivables/{kassenzeichen}"),
    ("post", "/api/v1/receivables/{kassenzeichen}/cancel"),
    ("post", "/api/v1/receivables/{kassenzeichen}/refund"),
    ("post", "/api/v1/bank-statements"),
    ("get", "/api/v1/clearing"),
    ("post", "/api/v1/clearing/{tx_id}/assign"),
    ("post", "/api/v1/clearing/{tx_id}/resolve"),
    ("post", "/api/v1/clearing/{tx_id}/refund"),
    ("get", "/api/v1/payables"),
    ("post", "/api/v1/payment-runs"),
    ("get", "/api/v1/payment-runs"),
    ("post", "/api/v1/einvoices"),
    ("get", "/api/v1/einvoices"),
    ("get", "/api/v1/einvoices/{invoice_id}"),
    ("get", "/api/v1/ledger/trial-balance"),
    ("get", "/api/v1/ledger/results"),
    ("get", "/api/v1/ledger/cash"),
    ("get", "/api/v1/ledger/accounts"),
    ("get", "/api/v1/ledger/products"),
    ("get", "/api/v1/ledger/entries"),
    ("post", "/api/v1/ledger/entries"),
    ("get", "/api/v1/ledger/entries/{entry_id}"),
    ("post", "/api/v1/ledger/entries/{entry_id}/reverse"),
    ("get", "/api/v1/ledger/periods"),
    ("post", "/api/v1/ledger/periods"),
    ("post", "/api/v1/einvoices/validate"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{sid}"),
    ("patch", "/api/v1/webhooks/{sid}"),
    ("delete", "/api/v1/webhooks/{sid}"),
    ("get", "/api/v1/webhooks/{sid}/deliveries"),
    ("post", "/api/v1/webhooks/{sid}/redeliver"),
    ("get", "/api/v1/events"),
}
CLERK_PREFIXES = ("/api/v1/tasks", "/api/v1/cases", "/api/v1/documents", "/api/v1/receivables",
                  "/api/v1/bank-statements", "/api/v1/clearing", "/api/v1/payables", "/api/v1/payment-runs",
                  "/api/v1/einvoices", "/api/v1/ledger", "/api/v1/webhooks", "/api/v1/events")
PUBLIC_EXCEPTIONS = ("/api/v1/einvoices/validate",)  # a supplier's pre-check needs no account


def test_health_ok(api):
    r = api().get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def test_health_reports_a_broken_database(api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    client = api()
    with monkeypatch.context() as m:
        m.setattr(connection, "cursor", broken)
        r = client.get("/api/v1/health")
    assert r.status_code == 503
    assert r.json() == {"status": "degraded", "database": "error"}


def test_health_needs_no_token_and_no_tenant(api):
    assert api(host="unbekannt.example").get("/api/v1/health").status_code == 200


def test_openapi_lists_every_endpoint(api):
    r = api().get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = json.loads(r.content)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "rathaus API"
    ops = {(m, p) for p, methods in doc["paths"].items() for m in methods}
    assert ops == EXPECTED_OPERATIONS
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op.get("summary"), (method, path)
            secured = bool(op.get("security"))
            expected = path.startswith(CLERK_PREFIXES) and path not in PUBLIC_EXCEPTIONS
            assert secured == expected, (method, path, op.get("security"))
    assert "TokenAuth" in doc["components"]["securitySchemes"]
    assert doc["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


def test_openapi_submission_examples_are_the_demo_examples(api):
    doc = api().get("/api/v1/openapi.json").json()
    examples = doc["paths"]["/api/v1/submissions"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert {"gewerbeanmeldung", "hundesteuer", "sondernutzung"} <= set(examples)
    for key, ex in examples.items():
        r = api().post("/api/v1/submissions?tenant=musterstadt", ex["value"])
        assert r.status_code == 201, (key, r.content[:300])


def test_docs_render(api):
    r = api().get("/api/v1/docs")
    assert r.status_code == 200
    assert b"openapi.json" in r.content


def test_head_answers_like_get_on_health_and_pages(seeded, client):
    """issue 15: HEAD got 405 on /api/v1/health and the Haushalt pages (monitoring probes send HEAD)."""
    from rathaus.demo.seed import DEMO_PASSWORD

    r = client.head("/api/v1/health")
    assert r.status_code == 200 and r.content == b""
    assert client.head("/").status_code == 200
    assert client.login(username="kaemmerei", password=DEMO_PASSWORD)
    for path in ("/haushalt/", "/haushalt/summen-salden/", "/haushalt/journal/"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code, (path, head.status_code, get.status_code)
        assert head.content == b""
