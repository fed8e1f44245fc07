"""Query counts on the hot paths (Zulip style): an N+1 regression fails loudly here."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import TESTDIENST_EXAMPLE


def _count(fn):
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    sql = [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))]
    return result, sql


def test_submission_query_count(api):
    client = api()
    body = {"service": "testdienst", "data": TESTDIENST_EXAMPLE}
    client.post("/api/v1/submissions?tenant=musterstadt", body)  # warm the per-process caches
    r, sql = _count(lambda: client.post("/api/v1/submissions?tenant=musterstadt", body))
    assert r.status_code == 201
    # PostgreSQL: one statement (Aktenzeichen, case, history, tasks, audit entry, outbox event; see
    # cases.services._insert_submission_pg); the current version of the service is remembered for a moment.
    # Elsewhere: case, history, tasks, counter, reference, audit head, entry, head, outbox.
    assert len(sql) <= (1 if connection.vendor == "postgresql" else 9), "\n".join(sql)


def test_inbox_query_count_does_not_grow_with_tasks(api, submit):
    clerk = api("sachbearbeitung")
    submit()
    clerk.get("/api/v1/tasks")
    _, few = _count(lambda: clerk.get("/api/v1/tasks"))
    for _ in range(5):
        submit()
    r, many = _count(lambda: clerk.get("/api/v1/tasks"))
    assert len(r.json()) >= 6
    assert len(many) == len(few), "\n".join(many)


def test_case_detail_query_count_does_not_grow(api, submit):
    clerk = api("leitung")
    sub = submit()
    clerk.get(f"/api/v1/cases/{sub['id']}")
    _, before = _count(lambda: clerk.get(f"/api/v1/cases/{sub['id']}"))
    task = clerk.get("/api/v1/tasks", case=sub["id"]).json()[0]
    clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    _, after = _count(lambda: clerk.get(f"/api/v1/cases/{sub['id']}"))
    assert len(after) == len(before), "\n".join(after)


def test_complete_task_query_count(api, submit):
    clerk = api("sachbearbeitung")
    sub = submit()
    task = clerk.get("/api/v1/tasks", case=sub["id"]).json()[0]
    r, sql = _count(lambda: clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}}))
    assert r.status_code == 200
    assert len(sql) <= 18, "\n".join(sql)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL setting")  # skip before the fixture:
def test_batch_jobs_ask_for_custom_plans_in_their_transaction_only(transactional_db):  # its flush needs TRUNCATE
    """With prepared statements (server-side binding), batch jobs set plan_cache_mode for their transaction
    (core.bulk.custom_plans); the setting does not leak to the connection's next transaction."""
    from django.db import transaction

    from rathaus.core.bulk import custom_plans

    def mode():
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('plan_cache_mode')")
            return cur.fetchone()[0]

    with transaction.atomic():
        before = mode()
        custom_plans()
        assert mode() == "force_custom_plan"
    assert mode() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's statement cache (PostgreSQL only)")
def test_submission_statement_is_converted_from_psycopgs_cache(api, monkeypatch):
    """psycopg parses a statement's placeholders again on every execution unless it is in its cache, which
    by default only takes statements of at most 50 parameters; the submission's one statement has more
    (rathaus.core.apps raises the limit). A submission must not go through the uncached conversion."""
    from psycopg import _queries

    client = api()
    body = {"service": "testdienst", "data": TESTDIENST_EXAMPLE}
    assert client.post("/api/v1/submissions?tenant=musterstadt", body).status_code == 201
    uncached = []
    original = _queries._query2pg_nocache

    def spy(query, encoding):
        uncached.append(query[:80])
        return original(query, encoding)

    monkeypatch.setattr(_queries, "_query2pg_nocache", spy)
    assert client.post("/api/v1/submissions?tenant=musterstadt", body).status_code == 201
    assert uncached == []


@pytest.mark.django_db
def test_no_index_of_its_own_where_another_leads_with_the_column():
    """Indexes dropped for the inserts' sake (cases 0003, events 0004) stay dropped, and their columns stay
    covered by an index that leads with them."""
    with connection.cursor() as cur:
        indexes = {}
        for table in ("cases_case", "cases_task", "events_auditentry"):
            constraints = connection.introspection.get_constraints(cur, table)
            indexes[table] = [tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]]
    assert ("tenant_id",) not in indexes["cases_case"]
    assert ("tenant_id", "reference") in indexes["cases_case"]
    assert ("tenant_id",) not in indexes["cases_task"]
    assert ("tenant_id", "state", "role") in indexes["cases_task"]
    assert ("tenant_id",) not in indexes["events_auditentry"]
    assert ("tenant_id", "seq") in indexes["events_auditentry"]


@pytest.mark.django_db
def test_any_of_is_in_with_one_array_parameter():
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    from rathaus.core.bulk import any_of
    from rathaus.tenants.models import Tenant

    Tenant.objects.create(slug="any-a", name="A", ags="05315000")
    Tenant.objects.create(slug="any-b", name="B", ags="05315000")
    keys = ["any-a", "any-b", "any-missing"] + [f"x{i}" for i in range(300)]
    with CaptureQueriesContext(conn) as ctx:
        found = sorted(any_of(Tenant.objects.all(), "slug", keys).values_list("slug", flat=True))
    assert found == ["any-a", "any-b"]
    if conn.vendor == "postgresql":
        sql = ctx.captured_queries[0]["sql"]
        assert "= ANY(" in sql and " IN (" not in sql


@pytest.mark.django_db
def test_array_literal_round_trips_any_text():
    import datetime as dt
    from decimal import Decimal

    from django.db import connection as conn

    from rathaus.core.bulk import array_literal

    texts = ["", "plain", 'a "quoted" word', "back\\slash", "\\\"", "comma,brace}{", "NULL", " spaces ",
             "Zeile 1\nZeile 2", "Ümläut €"]
    assert array_literal([1, None, Decimal("-12.50")]) == "{1,NULL,-12.50}"
    with pytest.raises(TypeError):
        array_literal([object()])
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cur:
        cur.execute("SELECT %s::text[], %s::numeric[], %s::bigint[], %s::timestamptz[]",
                    [array_literal(texts + [None]), array_literal([Decimal("8.85"), Decimal("-0.01"), None]),
                     array_literal([1, 2**40]), array_literal([dt.datetime(2026, 3, 2, 12, 30, tzinfo=dt.UTC)])])
        t, n, i, ts = cur.fetchone()
    assert t == texts + [None]
    assert n == [Decimal("8.85"), Decimal("-0.01"), None]
    assert i == [1, 2**40]
    assert ts == [dt.datetime(2026, 3, 2, 12, 30, tzinfo=dt.UTC)]
