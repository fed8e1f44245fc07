"""Referential integrity of the bulk tables (bank transactions, allocations, journal lines) and the
camt parser in its own process.

On PostgreSQL these tables' foreign keys are checked per statement by triggers (rathaus.core.setfk)
instead of declared row-by-row constraints; SQLite keeps its declared (deferred) foreign keys. Either
way a dangling reference must be refused: on insert (also by COPY), on update, and when the referenced
row is deleted."""
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import override_settings

from rathaus.core.bulk import insert_rows
from rathaus.finance import kassenzeichen as kz
from rathaus.finance.bank.camt import parse_camt053
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.finance.bank.process import parse_camt053_parallel
from rathaus.finance.bank.writer import WriterEntry, write_camt053
from rathaus.finance.models import Allocation, BankStatement, BankTransaction
from rathaus.ledger.models import Account, JournalEntry, JournalLine

from .test_finance_statements import IBAN, pay, receivable, statement

MISSING = 2_000_000_000


def _refused(sql: str, params: list, table: str) -> None:
    """`sql` must be refused as a foreign-key violation, at the latest when the constraints are checked
    (PostgreSQL: at the statement; SQLite: its deferred check, forced here)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql, params)
        if connection.vendor == "sqlite":
            connection.check_constraints(table_names=[table])


def _copy_sql(model, pk: int, **override) -> tuple[str, list]:
    """INSERT … SELECT of an existing row of `model` with some columns replaced by literals."""
    table = model._meta.db_table
    cols = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    select = [("%s" if c in override else c) for c in cols]
    return (f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(select)} FROM {table} WHERE id = %s",
            [override[c] for c in cols if c in override] + [pk])


@pytest.fixture
def paid(seeded):
    """A receivable paid by an imported statement: statement, bank transaction, allocation, journal lines."""
    t = seeded["musterstadt"]
    r = receivable(t)
    import_bank_statement(t, statement([pay("26.00", f"KZ {kz.display(r.kassenzeichen)}", "FK1")]), actor="kasse")
    alloc = Allocation.objects.get(receivable=r)
    line = JournalLine.objects.filter(tenant=t).order_by("-id").first()
    return {"tenant": t, "receivable": r, "allocation": alloc, "tx": alloc.transaction, "line": line}


@pytest.mark.parametrize("model, column", [
    (JournalLine, "entry_id"), (JournalLine, "account_id"),
    (Allocation, "transaction_id"), (Allocation, "receivable_id"),
    (BankTransaction, "statement_id"),
])
def test_insert_with_a_dangling_reference_is_refused(paid, model, column):
    row = {JournalLine: paid["line"], Allocation: paid["allocation"], BankTransaction: paid["tx"]}[model]
    override = {column: MISSING}
    if model is BankTransaction:
        override["fingerprint"] = "x" * 64  # the copy must not collide with the unique fingerprint
    sql, params = _copy_sql(model, row.pk, **override)
    _refused(sql, params, model._meta.db_table)
    # the same row with its real references goes in (the check is not simply refusing everything)
    ok_override = {c: v for c, v in override.items() if c != column}
    sql, params = _copy_sql(model, row.pk, **ok_override)
    if model is not JournalLine:  # posted journal lines are only written by the posting service
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, params)


def test_bulk_copy_with_a_dangling_reference_is_refused(paid):
    """`core.bulk.insert_rows` (COPY on PostgreSQL) goes through the same check."""
    a = paid["allocation"]
    row = {"tenant_id": a.tenant_id, "transaction_id": a.transaction_id, "receivable_id": MISSING,
           "amount": a.amount, "manual": False, "created_at": a.created_at, "created_by": "test"}
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Allocation, [row])
        if connection.vendor == "sqlite":
            connection.check_constraints(table_names=["finance_allocation"])
    assert Allocation.objects.filter(receivable_id=MISSING).count() == 0


def test_update_to_a_dangling_reference_is_refused(paid):
    _refused("UPDATE finance_allocation SET receivable_id = %s WHERE id = %s", [MISSING, paid["allocation"].pk],
             "finance_allocation")
    _refused("UPDATE finance_banktransaction SET statement_id = %s WHERE id = %s", [MISSING, paid["tx"].pk],
             "finance_banktransaction")


@pytest.mark.parametrize("table, child, key", [
    ("finance_receivable", "finance_allocation", "receivable"),
    ("finance_banktransaction", "finance_allocation", "tx"),
    ("finance_bankstatement", "finance_banktransaction", "statement"),
    ("ledger_account", "ledger_journalline", "account"),
])
def test_deleting_a_referenced_row_is_refused(paid, table, child, key):
    pk = {"receivable": paid["receivable"].pk, "tx": paid["tx"].pk, "statement": paid["tx"].statement_id,
          "account": paid["line"].account_id}[key]
    if table in ("finance_receivable", "finance_banktransaction", "finance_bankstatement"):
        # delete what hangs on the row by CASCADE in the database's eyes only (receivable lines), so that
        # just the reference under test stands in the way
        with connection.cursor() as cur:
            cur.execute("DELETE FROM finance_receivableline WHERE receivable_id = %s", [paid["receivable"].pk])
    _refused(f"DELETE FROM {table} WHERE id = %s", [pk], child)
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table} WHERE id = %s", [pk])
        assert cur.fetchone()[0] == 1


def test_unreferenced_rows_can_still_be_deleted(seeded):
    """The delete check looks at the deleted rows only: an account nobody booked on can go."""
    t = seeded["musterstadt"]
    acc = Account.objects.filter(tenant=t).exclude(lines__isnull=False).exclude(cash_lines__isnull=False).first()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM ledger_account WHERE id = %s", [acc.pk])
    assert not Account.objects.filter(pk=acc.pk).exists()


def test_journal_lines_posted_by_the_service_pass_the_check(paid):
    e = JournalEntry.objects.get(pk=paid["line"].entry_id)
    assert e.lines.count() >= 2


# --------------------------------------------------------------------------- parser in a process

def _big_statement(n: int) -> bytes:
    out = io.BytesIO()
    entries = [WriterEntry(amount=Decimal(f"{10 + i % 50}.{i % 100:02d}"), booking_date=dt.date(2026, 11, 27),
                           remittance=f"Kassenzeichen 2026-{i:06d}-00 Müller & Söhne <Gebühr>",
                           account_servicer_ref=f"R{i}", debtor_name="Jörg Weiß", debtor_iban="DE89370400440532013000")
               for i in range(n)]
    write_camt053(out, version="camt.053.001.08", account_iban=IBAN, account_owner="Stadt Musterstadt",
                  servicer_bic="BYLADEM1001", statement_id="P-1", message_id="MSG-P-1",
                  created_at=dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC), opening_balance=Decimal("0.00"), entries=entries)
    return out.getvalue()


def test_parser_process_yields_what_the_parser_yields():
    data = _big_statement(700)
    inline = list(parse_camt053(data, max_bytes=10**8))
    for source in (data, io.BytesIO(data)):
        child = list(parse_camt053_parallel(source, max_bytes=10**8))
        assert child == inline  # the dataclasses compare field by field (statement included)
        assert [e.precomputed_fingerprint for e in child] == [e.fingerprint() for e in inline]
        assert all(e.statement is child[0].statement for e in child)
        assert [tx.kz_candidates for e in child for tx in e.transactions] == [
            kz.candidates_in(tx.creditor_reference, tx.remittance, tx.end_to_end_id, e.additional_info)
            for e in inline for tx in e.transactions]


@pytest.mark.parametrize("data, message", [
    (b"<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.08'><BkToCstmrStmt>",
     "unvollständig"),
    (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "DTD"),
])
def test_parser_process_reports_the_parser_errors(data, message):
    from rathaus.finance.bank.camt_model import CamtError

    with pytest.raises(CamtError) as inline:
        list(parse_camt053(data, max_bytes=10**6))
    with pytest.raises(CamtError) as child:
        list(parse_camt053_parallel(data, max_bytes=10**6))
    assert (child.value.message, child.value.line) == (inline.value.message, inline.value.line)
    assert message in child.value.message


def test_parser_process_keeps_the_size_limit():
    from rathaus.finance.bank.camt_model import CamtError

    data = _big_statement(300)
    with pytest.raises(CamtError, match="zu groß"):
        list(parse_camt053_parallel(data, max_bytes=len(data) // 2))


def test_import_through_the_parser_process_books_the_same(seeded):
    """The whole import with the parser in a child process (threshold 0) books what the in-process
    parser books: matched, partial, clearing, and a second upload is all duplicates."""
    t = seeded["musterstadt"]
    r1, r2 = receivable(t), receivable(t, amount="40.00")
    data = statement([pay("26.00", f"KZ {kz.display(r1.kassenzeichen)}", "PP1"),
                      pay("10.00", f"Kassenzeichen {r2.kassenzeichen}", "PP2"),
                      pay("5.00", "ohne Kassenzeichen", "PP3")])
    with override_settings(RATHAUS_CAMT_PROCESS_BYTES=0):
        res = import_bank_statement(t, io.BytesIO(data), actor="kasse")
        again = import_bank_statement(t, data, actor="kasse")
    assert (res.entries, res.matched, res.unmatched, res.duplicates) == (3, 2, 1, 0)
    assert (again.entries, again.duplicates) == (3, 3)
    r1.refresh_from_db()
    r2.refresh_from_db()
    assert (r1.status, r2.status, str(r2.open_amount)) == ("paid", "partially_paid", "30.00")
    assert BankStatement.objects.filter(tenant=t, statement_id="2026-11-27-001").count() == 2


def test_batches_see_the_amounts_of_the_batches_before(seeded, monkeypatch):
    """The writes of a batch run while the next one is matched (PostgreSQL): a receivable paid in several
    batches of one statement must still be settled step by step (partial, partial, rest, over)."""
    from django.db.models import Sum

    from rathaus.events.models import OutboxEvent
    from rathaus.finance.bank import importer

    monkeypatch.setattr(importer, "BATCH", 2)
    t = seeded["musterstadt"]
    r, other = receivable(t, amount="100.00"), receivable(t, amount="10.00")
    k = kz.display(r.kassenzeichen)
    entries = [pay("30.00", f"KZ {k}", "B1"), pay("10.00", f"KZ {kz.display(other.kassenzeichen)}", "B2"),
               pay("30.00", f"KZ {k}", "B3"), pay("1.00", "nichts", "B4"),
               pay("40.00", f"KZ {k}", "B5"), pay("5.00", f"KZ {k}", "B6"), pay("2.00", "nichts", "B7")]
    res = import_bank_statement(t, statement(entries), actor="kasse")
    assert (res.entries, res.matched, res.unmatched) == (7, 5, 2)
    r.refresh_from_db()
    other.refresh_from_db()
    assert (r.status, r.paid_amount, r.open_amount) == ("overpaid", Decimal("105.00"), Decimal("-5.00"))
    assert other.status == "paid"
    assert list(Allocation.objects.filter(receivable=r).order_by("id").values_list("amount", flat=True)) == [
        Decimal("30.00"), Decimal("30.00"), Decimal("40.00"), Decimal("5.00")]
    statuses = list(OutboxEvent.objects.filter(aggregate_id=r.kassenzeichen, type__startswith="receivable.")
                    .order_by("id").values_list("payload__previous_status", "payload__status"))
    # one event per receivable and batch whose status changed: [B1 B2] [B3 B4] [B5 B6] [B7]
    assert statuses == [("open", "partially_paid"), ("partially_paid", "overpaid")]
    agg = JournalLine.objects.filter(tenant=t).aggregate(d=Sum("debit"), c=Sum("credit"))
    assert agg["d"] == agg["c"]
    # the receivable's Forderung is settled exactly once (100.00), the 5.00 over are a liability
    lines = JournalLine.objects.filter(tenant=t, text__contains=k, credit__gt=0)
    settled = lines.filter(account__number=r.receivable_account).aggregate(c=Sum("credit"))["c"]
    assert settled == Decimal("100.00")
    assert lines.get(account__number="3792000").credit == Decimal("5.00")  # "Überzahlung KZ …" of the same payer


def _parser_children() -> list[int]:
    import os

    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            cmd = open(f"/proc/{d}/cmdline", "rb").read()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"rathaus.finance.bank.process" in cmd and stat[0] != "Z":
            pids.append(int(d))
    return pids


def test_a_failed_import_stops_its_parser_process(seeded):
    """A statement that is malformed half-way through: 4xx, nothing booked, and the parser process is gone
    when the error reaches the caller."""
    from rathaus.core.errors import Invalid

    t = seeded["musterstadt"]
    good = statement([pay("1.00", "x", f"H{i}") for i in range(50)])
    broken = good[: len(good) * 2 // 3]  # cut off in the middle of an entry
    with override_settings(RATHAUS_CAMT_PROCESS_BYTES=0), pytest.raises(Invalid):
        import_bank_statement(t, broken, actor="kasse")
    assert _parser_children() == []
    assert not BankTransaction.objects.filter(tenant=t, bank_reference__startswith="H").exists()
    # refused by the booking side at the first entry (not the tenant's account) while the child still parses
    foreign = statement([pay("1.00", "x", f"F{i}") for i in range(3000)], iban="DE89370400440532013000")
    with override_settings(RATHAUS_CAMT_PROCESS_BYTES=0), pytest.raises(Invalid, match="kein Konto"):
        import_bank_statement(t, foreign, actor="kasse")
    assert _parser_children() == []
