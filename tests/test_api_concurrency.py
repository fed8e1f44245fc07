"""Concurrent submissions (PostgreSQL): references stay distinct and gap-free, an Idempotency-Key opens
exactly one case even when the same request arrives in parallel."""

import threading

import pytest
from django.db import connection
from django.test import Client

from .conftest import TESTDIENST_EXAMPLE

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")

THREADS = 8
PER_THREAD = 10


def _run_threads(target, n=THREADS):
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def wrapper(i):
        try:
            barrier.wait(timeout=30)
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "threads hang"
    assert not errors, errors


def _numbers(tenant, prefix, year):
    from rathaus.cases.models import Case

    refs = Case.objects.filter(tenant=tenant, reference__startswith=f"{prefix}-{year}-").values_list(
        "reference", flat=True)
    return sorted(int(r.rsplit("-", 1)[1]) for r in refs)


def test_concurrent_submissions_get_distinct_gap_free_references(seeded_tx):
    from django.utils import timezone

    from rathaus.cases.services import submit_application

    tenant = seeded_tx["musterstadt"]
    year = timezone.localtime().year
    before = _numbers(tenant, "TST", year)
    start = before[-1] if before else 0
    results: list[str] = []
    lock = threading.Lock()

    def work(i):
        for j in range(PER_THREAD):
            data = {**TESTDIENST_EXAMPLE, "vorname": f"T{i}-{j}"}
            r = submit_application(tenant, "testdienst", data, channel="api")
            with lock:
                results.append(r.case.reference)

    _run_threads(work)
    n = THREADS * PER_THREAD
    assert len(results) == n and len(set(results)) == n
    assert _numbers(tenant, "TST", year) == before + list(range(start + 1, start + n + 1))
    from rathaus.tenants.models import ReferenceCounter

    assert ReferenceCounter.objects.get(tenant=tenant, prefix="TST", year=year).value == start + n
    from rathaus.events.services import verify_chain

    chain = verify_chain(tenant)  # concurrent writers append to the audit chain in order
    assert chain.ok, chain.error


def test_concurrent_requests_with_the_same_idempotency_key_open_one_case(seeded_tx):
    from rathaus.cases.models import Case

    tenant = seeded_tx["musterstadt"]
    year_refs_before = Case.objects.filter(tenant=tenant).count()
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()
    body = {"service": "testdienst", "data": dict(TESTDIENST_EXAMPLE)}

    def work(i):
        r = Client().post("/api/v1/submissions?tenant=musterstadt", body, content_type="application/json",
                          HTTP_IDEMPOTENCY_KEY="parallel-1")
        with lock:
            answers.append((r.status_code, r.json()))

    _run_threads(work)
    statuses = sorted(s for s, _ in answers)
    assert statuses == [200] * (THREADS - 1) + [201], answers
    assert len({(a["id"], a["reference"], a["access_code"]) for _, a in answers}) == 1
    assert Case.objects.filter(tenant=tenant, idempotency_key="parallel-1").count() == 1
    assert Case.objects.filter(tenant=tenant).count() == year_refs_before + 1


def test_concurrent_claims_have_one_winner(seeded_tx):
    from rathaus.cases.models import Task
    from rathaus.cases.services import claim_task, submit_application
    from rathaus.tenants.models import Membership

    tenant = seeded_tx["musterstadt"]
    case = submit_application(tenant, "testdienst", dict(TESTDIENST_EXAMPLE)).case
    task = Task.objects.get(case=case, state="open")
    members = list(Membership.objects.filter(tenant=tenant, user__username__in=["sachbearbeitung", "leitung"])
                   .select_related("user", "tenant"))
    outcome: list[str] = []
    lock = threading.Lock()

    def work(i):
        from rathaus.core.errors import Conflict

        try:
            claim_task(members[i % 2], task.pk)
            res = "ok"
        except Conflict:
            res = "conflict"
        with lock:
            outcome.append(res)

    _run_threads(work, n=4)
    task.refresh_from_db()
    winner = task.assignee.get_username()
    assert winner in ("sachbearbeitung", "leitung")
    # the winner's re-claims succeed (idempotent), the other person always gets 409
    assert outcome.count("ok") == 2 and outcome.count("conflict") == 2


def test_the_same_invoice_uploaded_in_parallel_opens_one_approval_case(seeded_tx):
    """Four uploads of one invoice at the same moment: exactly one goes to review with a case, the others are
    duplicates of it; no case without its invoice (the case step runs without a savepoint of its own)."""
    from rathaus.cases.models import Case
    from rathaus.demo.einvoices import demo_invoice_for
    from rathaus.einvoice.models import EInvoice
    from rathaus.einvoice.services import receive_invoice

    tenant = seeded_tx["musterstadt"]
    xml = demo_invoice_for(tenant, "PAR-2026-0001")
    cases_before = Case.objects.filter(tenant=tenant, service_version__service__key="eingangsrechnung").count()
    statuses: list[str] = []
    lock = threading.Lock()

    def work(i):
        inv = receive_invoice(tenant, xml, actor="kasse", channel="api")
        with lock:
            statuses.append(inv.status)

    _run_threads(work, n=4)
    rows = list(EInvoice.objects.filter(tenant=tenant, invoice_number="PAR-2026-0001"))
    assert len(rows) == 4
    in_review = [r for r in rows if r.status == "in_review"]
    assert len(in_review) == 1 and in_review[0].case_id is not None
    assert sorted(r.status for r in rows) == ["duplicate"] * 3 + ["in_review"]
    for r in rows:  # the duplicates keep their key data and point to the original, whichever way they lost
        assert r.seller_key == in_review[0].seller_key and r.total_gross == in_review[0].total_gross
        if r.status == "duplicate":
            assert r.duplicate_of_id == in_review[0].pk and r.case_id is None
    cases_after = Case.objects.filter(tenant=tenant, service_version__service__key="eingangsrechnung").count()
    assert cases_after == cases_before + 1


def test_completing_a_task_does_not_hold_up_new_cases_of_the_same_service(seeded_tx, monkeypatch):
    """complete_task locks the case row, not the rows it joins: a plain FOR UPDATE with select_related locked
    the service version too, and every new case of that service waited for the clerk's transaction (process
    step, notice rendering) because its FK check needs a KEY SHARE lock on that row. The clerk's transaction
    is held right after the process step, while the case is locked and before the audit append."""
    from django.db import transaction

    from rathaus.cases import services as cases
    from rathaus.cases.models import Case, Task
    from rathaus.tenants.models import Membership

    tenant = seeded_tx["musterstadt"]
    case = cases.submit_application(tenant, "testdienst", dict(TESTDIENST_EXAMPLE)).case
    task = Task.objects.get(case=case, state="open")
    clerk = Membership.objects.select_related("user", "tenant").get(tenant=tenant, user__username="sachbearbeitung")
    locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    step = cases.engine.complete_user_task

    def held_step(*args, **kwargs):  # the real process step, then wait inside the clerk's transaction
        result = step(*args, **kwargs)
        locked.set()
        release.wait(timeout=30)
        return result

    monkeypatch.setattr(cases.engine, "complete_user_task", held_step)

    def clerk_transaction():
        try:
            cases.complete_task(clerk, task.pk, {"decision": "approve"})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            locked.set()
        finally:
            connection.close()

    t = threading.Thread(target=clerk_transaction)
    t.start()
    try:
        assert locked.wait(timeout=30)
        assert not errors, errors
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '2s'")
            other = cases.submit_application(tenant, "testdienst", {**TESTDIENST_EXAMPLE, "vorname": "Zweite"}).case
        assert other.pk and other.service_version_id == case.service_version_id
        from django.db import OperationalError

        with pytest.raises(OperationalError), transaction.atomic():  # the case row itself stays locked
            Case.objects.select_for_update(nowait=True).filter(pk=case.pk).exists()
    finally:
        release.set()
        t.join(timeout=30)
    assert not errors, errors
    task.refresh_from_db()
    assert task.state == "completed"
