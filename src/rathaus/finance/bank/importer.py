"""The bank statement import: book every new payment of a camt.053 file once, match it, keep the file.

`import_bank_statement` streams the file (`camt.parse_camt053`, in a child process for a large file:
`process`), and `_Importer` processes it in batches: one query per batch finds the receivables whose
Kassenzeichen occur in the batch, locked FOR UPDATE, so memory stays bounded and concurrent imports of the
same payment book it once (the bank account row is locked for the whole import; transactions are unique by
fingerprint). What a payment settles is decided by `matching.allocate`, its journal lines come from
`postings`; a batch is booked as one collective entry per booking day, its outbox events are written with
`events.services.record_events`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import hashlib
import queue
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, connections, router, transaction
from django.utils import timezone

from rathaus.core.bulk import any_of, array_literal, custom_plans, insert_rows, reserve_ids
from rathaus.core.errors import Invalid
from rathaus.documents.models import Document
from rathaus.documents.services import sha256_of, store_document
from rathaus.events.services import event_row, record_change, record_events
from rathaus.ledger import services as ledger
from rathaus.ledger.models import Account

from .. import kassenzeichen as kzlib
from ..matching import allocate, apply_payment
from ..models import (
    Allocation,
    BankAccount,
    BankStatement,
    BankTransaction,
    Payable,
    PaymentRunItem,
    Receivable,
    ReceivableStatus,
)
from ..payables import book_run_item_payment
from ..postings import payment_lines, suspense_debit
from ..receivables import receivable_event
from .camt import parse_camt053, read_statement_infos
from .camt_model import CamtError
from .process import parse_camt053_parallel, source_size

ZERO = Decimal("0.00")
BATCH = 1000


# --------------------------------------------------------------------------- bank statements

@dataclass
class ImportResult:
    entries: int = 0
    matched: int = 0
    unmatched: int = 0
    duplicates: int = 0
    skipped: int = 0  # entries that are not booked yet (pending / information only)
    statements: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"entries": self.entries, "matched": self.matched, "unmatched": self.unmatched,
                "duplicates": self.duplicates, "skipped": self.skipped, "statements": self.statements}


class _MatchedReceivable:
    """What the import reads and writes of a receivable: a plain record with the model's attribute names,
    not a model instance (building one instance per receivable paid, timestamps and JSON included, cost more
    than the matching)."""

    FIELDS = ("id", "tenant_id", "kassenzeichen", "case_id", "debtor_name", "amount", "paid_amount",
              "open_amount", "status", "product", "receivable_account", "cash_account", "cost_centre")
    __slots__ = (*FIELDS, "updated_at")
    kassenzeichen_display = Receivable.kassenzeichen_display

    def __init__(self, *values):
        # one unpacking, not a setattr per field (one record per receivable paid); the order is FIELDS'
        (self.id, self.tenant_id, self.kassenzeichen, self.case_id, self.debtor_name, self.amount, self.paid_amount,
         self.open_amount, self.status, self.product, self.receivable_account, self.cash_account,
         self.cost_centre) = values
        self.updated_at = None

    @property
    def pk(self) -> int:
        return self.id


@dataclass
class _Pending:
    tx: BankTransaction
    allocations: list[tuple[Receivable, Decimal]]
    # per allocation: the receivable and the part that reduces its Forderung (the rest is overpaid)
    settlements: list[tuple[Receivable, Decimal]]
    run_item: object = None  # PaymentRunItem paid by this debit


class _Importer:
    def __init__(self, tenant, actor: str, sha: str, document, now):
        self.tenant = tenant
        self.actor = actor
        self.sha = sha
        self.document = document
        self.now = now
        self.result = ImportResult()
        self.account: BankAccount | None = None
        self.statement: BankStatement | None = None
        self._info = None
        self.batch: list[tuple] = []
        self._batches = 0
        self.seen: set[str] = set()
        self.roles = {}
        # Pipelining (PostgreSQL): the writes of batch N run in a writer thread on this transaction's
        # connection while this thread matches batch N+1 (Python), so PostgreSQL's work (COPY, index
        # maintenance, updates, ledger rows) overlaps with ours instead of following it. The connection is
        # used by one thread at a time: the reads of a batch happen before the previous batch's writes are
        # handed over, and `_wait_writer` comes before any other use of the connection.
        self._pending = None  # (write, {kassenzeichen: record}) of the last batch, not yet handed over
        self._inflight = None  # Future of the writes running in the writer thread
        self._writer = None
        self._conn = connections[router.db_for_write(BankTransaction)]
        if self._conn.vendor == "postgresql":
            conn, alias = self._conn, self._conn.alias
            conn.inc_thread_sharing()

            def use_this_connection():  # the ORM in the writer thread must use this transaction's connection
                connections[alias] = conn

            self._writer = ThreadPoolExecutor(1, thread_name_prefix="camt-writer", initializer=use_this_connection)

    # -- pipelining
    def _wait_writer(self):
        if self._inflight is not None:
            f, self._inflight = self._inflight, None
            f.result()

    def drain(self):
        """Every write of the batches so far done: before the connection is used for anything else."""
        self._wait_writer()
        if self._pending is not None:
            write, _ = self._pending
            self._pending = None
            write()

    def close(self):
        """Stop the writer thread (after an error too: the connection must be idle before the rollback)."""
        if self._writer is None:
            return
        try:
            if self._inflight is not None:
                self._inflight.exception()  # waits; an error was or will be raised by the caller's path
        finally:
            self._inflight = None
            self._writer.shutdown(wait=True)
            self._writer = None
            self._conn.dec_thread_sharing()

    # -- statements
    def start_statement(self, info):
        iban = (info.account_iban or info.account_other or "").replace(" ", "").upper()
        if self.account is None or self.account.iban != iban:
            acc = BankAccount.objects.select_for_update().filter(tenant=self.tenant, iban=iban, active=True).first()
            if acc is None:
                raise Invalid(f"Das Konto {iban or info.account_other or '?'} ist kein Konto von {self.tenant.name}; "
                              "der Kontoauszug wurde nicht eingelesen.",
                              errors=[{"pointer": "/Stmt/Acct/Id/IBAN", "message": "Konto unbekannt",
                                       "field": "IBAN"}])
            self.account = acc
            bank = Account.objects.filter(tenant=self.tenant, number=acc.ledger_account).first()
            if bank is None or not bank.liquid:
                raise Invalid(f"Dem Bankkonto {acc.iban} ist kein Sachkonto der liquiden Mittel zugeordnet.")
        self._st_entries = 0
        self._st_duplicates = 0
        self._occurrences: dict[str, int] = {}
        self.statement = BankStatement.objects.create(
            tenant=self.tenant, bank_account=self.account, version=info.version, message_id=info.message_id[:140],
            statement_id=(info.statement_id or "")[:140], electronic_seq=(info.electronic_seq or "")[:40],
            from_date=info.from_date, to_date=info.to_date, sha256=self.sha, document=self.document,
            imported_at=self.now, imported_by=self.actor,
        )
        self.result.statements.append(self.statement.pk)
        self._info = info

    def role(self, role: str) -> str:
        if role not in self.roles:
            self._wait_writer()  # a query: the connection must be free
            self.roles[role] = ledger.account_for_role(self.tenant, role).number
        return self.roles[role]

    # -- entries
    def add(self, entry):
        if entry.statement is not self._info:
            self.flush()
            self.drain()
            self.finish_statement()
            self.start_statement(entry.statement)
        if entry.status != "BOOK":
            self.result.skipped += len(entry.transactions)
            return
        txs = entry.transactions
        if any(tx.amount is None for tx in txs):
            # a batch booking whose details carry no amounts: one payment of the entry amount (clearing)
            txs = [dataclasses.replace(txs[0], amount=entry.amount, currency=entry.currency, index=0,
                                       remittance="\n".join(t.remittance for t in txs if t.remittance),
                                       kz_candidates=None)]
        entry_fp = entry.precomputed_fingerprint or entry.fingerprint()
        # identical bookings without a bank reference have the same fingerprint: number them within the
        # statement, so a re-delivered statement still matches and two real payments stay two
        occurrence = self._occurrences.get(entry_fp, 0)
        self._occurrences[entry_fp] = occurrence + 1
        for tx in txs:
            if tx.amount <= 0:  # an entry of 0.00 (seen in bank files) moves no money: nothing to book
                self.result.skipped += 1
                continue
            fp = hashlib.sha256(f"{entry_fp}:{tx.index}:{occurrence}".encode()).hexdigest()
            self.batch.append((entry, tx, fp))
        if len(self.batch) >= BATCH:
            self.flush()

    def finish_statement(self):
        if self.statement is None:
            return
        self.drain()
        st = self.statement
        counts = BankTransaction.objects.filter(statement=st)
        st.entries = self._st_entries
        st.matched = counts.filter(state=BankTransaction.State.MATCHED).count()
        st.unmatched = counts.filter(state=BankTransaction.State.CLEARING).count()
        st.duplicates = self._st_duplicates
        st.save(update_fields=["entries", "matched", "unmatched", "duplicates"])

    def flush(self):
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        acc = self.account
        self._wait_writer()  # the connection is ours again (the batch before the last one is written)
        fps = [fp for _, _, fp in batch]
        known = _known_fingerprints(self.tenant.pk, acc.pk, fps)
        fresh = []
        for entry, tx, fp in batch:
            self.result.entries += 1
            self._st_entries += 1
            if fp in known or fp in self.seen:
                self.result.duplicates += 1
                self._st_duplicates += 1
                continue
            self.seen.add(fp)
            fresh.append((entry, tx, fp))
        if not fresh:
            return
        # candidate Kassenzeichen of the incoming payments; one locked query for the whole batch
        cands: dict[str, list[str]] = {}
        for entry, tx, fp in fresh:
            if entry.credit and not entry.reversal:
                cands[fp] = tx.kz_candidates if tx.kz_candidates is not None else kzlib.candidates_in(
                    tx.creditor_reference, tx.remittance, tx.end_to_end_id, entry.additional_info)
        e2e = {tx.end_to_end_id for entry, tx, fp in fresh if not entry.credit and not entry.reversal
               and tx.end_to_end_id}
        # debits of payment runs change payables through the ORM while the entries are built: no pipelining
        sync = bool(e2e) or self._writer is None
        if sync:
            self.drain()
        run_items = {}
        if e2e:
            for it in (PaymentRunItem.objects.select_for_update(of=("self",)).select_related("payable")
                       .prefetch_related("payable__lines")
                       .filter(run__tenant=self.tenant, paid=False, end_to_end_id__in=sorted(e2e)).order_by("id")):
                run_items[it.end_to_end_id] = it
        all_kz = sorted({k for ks in cands.values() for k in ks})
        receivables = {}
        for i in range(0, len(all_kz), 2000):
            chunk = all_kz[i:i + 2000]
            rows = (any_of(Receivable.objects.select_for_update().filter(tenant=self.tenant), "kassenzeichen", chunk)
                    .exclude(status=ReceivableStatus.CANCELLED).order_by("id").values_list(*_MatchedReceivable.FIELDS))
            for row in rows:
                r = _MatchedReceivable(*row)
                receivables[r.kassenzeichen] = r
        reserved = reserve_ids(BankTransaction, len(fresh))  # None on SQLite: the insert gives the ids
        if self._pending is not None:
            # the last batch's writes have not run yet: its receivables are newer in memory than in the table
            write, records = self._pending
            self._pending = None
            for kz_, r in records.items():
                if kz_ in receivables:
                    receivables[kz_] = r
            self._inflight = self._writer.submit(write)
        pending: list[_Pending] = []
        old_status: dict[int, str] = {}
        for entry, tx, fp in fresh:
            amount = tx.amount
            # a plain record, not a model instance: thousands of these per batch go in with COPY
            btx = SimpleNamespace(
                pk=None, tenant_id=self.tenant.pk, statement_id=self.statement.pk, bank_account_id=acc.pk,
                fingerprint=fp, booking_date=entry.booking_date or entry.value_date or timezone.localdate(),
                value_date=entry.value_date, amount=amount, credit=entry.credit, reversal=entry.reversal,
                currency=tx.currency or entry.currency,
                remittance=tx.remittance[:4000],
                end_to_end_id=tx.end_to_end_id[:140],
                counterparty_name=((tx.debtor_name or tx.ultimate_debtor) if entry.credit
                                   else (tx.creditor_name or tx.ultimate_creditor))[:200],
                counterparty_iban=(tx.debtor_iban if entry.credit else tx.creditor_iban)[:34],
                bank_reference=(entry.account_servicer_ref or "")[:140],
                bank_tx_code=(tx.proprietary_code or tx.bank_tx_code or entry.proprietary_code)[:60],
                return_reason=(tx.return_reason or "")[:10], state=BankTransaction.State.CLEARING.value,
                unallocated=amount, note="", resolved_at=None, resolved_by="",
            )
            item = run_items.get(tx.end_to_end_id) if not entry.credit and not entry.reversal else None
            if item is not None and (item.amount != amount or item.paid):
                btx.note = f"Zahlungslauf-Position {item.end_to_end_id}: Betrag weicht ab ({item.amount})."[:300]
                item = None
            allocs, note = allocate(amount, [receivables[k] for k in cands.get(fp, []) if k in receivables],
                                    credit=btx.credit, reversal=btx.reversal, currency=btx.currency,
                                    payer=btx.counterparty_name)
            if note:
                btx.note = note
            settlements = []
            for r, a in allocs:
                old_status.setdefault(r.pk, r.status)
                settlements.append((r, apply_payment(r, a)))
                r.updated_at = self.now
            if allocs or item is not None:
                btx.state = BankTransaction.State.MATCHED.value
                btx.unallocated = ZERO
                self.result.matched += 1
            else:
                self.result.unmatched += 1
            pending.append(_Pending(btx, allocs, settlements, item))
        tx_rows = [vars(p.tx) for p in pending]  # (their "pk" is no column: ignored)
        if reserved is None:
            reserved = insert_rows(BankTransaction, tx_rows)
            tx_rows = None
        for p, pk in zip(pending, reserved, strict=True):
            p.tx.pk = pk
        alloc_rows = [
            {"tenant_id": self.tenant.pk, "transaction_id": p.tx.pk, "receivable_id": r.pk, "amount": a,
             "manual": False, "created_at": self.now, "created_by": self.actor}
            for p in pending for r, a in p.allocations]
        touched = {r.pk: r for p in pending for r, _ in p.allocations}
        # what is written is taken now: the next batch may change these receivables while this one is written
        amounts = _receivable_amounts(touched.values())
        at = timezone.now()
        events = [receivable_event(r, old_status[r.pk], at) for r in touched.values() if r.status != old_status[r.pk]]
        paid_items = [p.run_item for p in pending if p.run_item is not None]
        events += [event_row(self.tenant.pk, "payable.paid", aggregate_type="payable", aggregate_id=it.payable.number,
                             payload={"number": it.payable.number, "amount": str(it.amount), "run": it.run_id}, at=at)
                   for it in paid_items]
        collective = self._collective(pending)
        tenant, actor, now = self.tenant, self.actor, self.now

        def write():
            if tx_rows is not None:
                insert_rows(BankTransaction, tx_rows, ids=reserved)
            insert_rows(Allocation, alloc_rows, returning=False)
            if amounts:
                _write_receivable_amounts(amounts)
            if paid_items:
                PaymentRunItem.objects.bulk_update(paid_items, ["paid"])
                Payable.objects.bulk_update([it.payable for it in paid_items], ["status", "paid_amount", "updated_at"])
            record_events(events)  # the receivables' new states, then the payables paid
            ledger.post_entries(tenant, collective, actor=actor, audit=False, now=now)

        if sync:
            write()
        else:
            self._pending = (write, {r.kassenzeichen: r for r in touched.values()})

    def _collective(self, pending: list[_Pending]) -> list[ledger.EntrySpec]:
        """One collective entry (Sammelbuchung) per booking day of a batch, as the statement itself is
        one Beleg: the counter-lines stay one per payment (with Kassenzeichen and the transaction's
        number in the text, so every payment is traceable), the bank side is summed per direction."""
        bank = self.account.ledger_account
        by_day: dict = {}
        for p in pending:
            btx = p.tx
            if p.run_item is not None:  # the payables' own posting; its bank line is summed like the others
                lines = book_run_item_payment(p.run_item, booking_date=btx.booking_date, bank_ledger_account=bank,
                                              source_ref=f"banktx:{btx.pk}").lines
                bank_debit = bank_credit = ZERO
            else:
                lines = self._counter_lines(p)
                bank_debit, bank_credit = (btx.amount, ZERO) if btx.credit else (ZERO, btx.amount)
            day = by_day.get(btx.booking_date)
            if day is None:
                day = by_day[btx.booking_date] = {"lines": [], "debit": ZERO, "credit": ZERO, "n": 0}
            day["n"] += 1
            day["debit"] += bank_debit
            day["credit"] += bank_credit
            ref = btx.pk
            for ln in lines:
                if ln.account == bank and not ln.product and not ln.cash_account:
                    day["debit"] += Decimal(ln.debit)
                    day["credit"] += Decimal(ln.credit)
                else:
                    ln.text = f"{ln.text} · Umsatz {ref}".strip(" ·")[:300]
                    day["lines"].append(ln)
        self._batches += 1
        out = []
        for date, day in sorted(by_day.items()):
            lines = day["lines"]
            if day["debit"]:
                lines.append(ledger.Line(account=bank, debit=day["debit"], text="Eingänge laut Kontoauszug"))
            if day["credit"]:
                lines.append(ledger.Line(account=bank, credit=day["credit"], text="Ausgänge laut Kontoauszug"))
            st = self.statement
            out.append(ledger.EntrySpec(
                date=date, text=f"Kontoauszug {st.statement_id} vom {date:%d.%m.%Y}, Teil {self._batches} "
                                f"(Umsätze: {day['n']})"[:300],
                source_ref=f"statement:{st.pk}:{self._batches}:{date.isoformat()}", source_type="bank_statement",
                lines=lines))
        return out

    def _counter_lines(self, p: _Pending) -> list[ledger.Line]:
        """The lines of a payment that is no payment-run item, but for its bank line (bank an Forderung /
        Überzahlung / Verwahrgeld, or Verwahrgeld an Bank): the collective entry sums the bank side per day."""
        btx = p.tx
        if not btx.credit:
            return [suspense_debit(btx.amount, self.role, text="Ausgang ungeklärt")]
        return payment_lines(btx.amount, p.settlements, self.role)


def _known_fingerprints(tenant_id: int, account_id: int, fps: list[str]) -> set[str]:
    """The fingerprints of `fps` already booked for this account (one query per batch; on PostgreSQL the
    array is one parameter and each fingerprint one probe of the unique index)."""
    if connection.vendor != "postgresql":
        return set(BankTransaction.objects.filter(tenant_id=tenant_id, bank_account_id=account_id,
                                                  fingerprint__in=fps).order_by().values_list("fingerprint", flat=True))
    table = BankTransaction._meta.db_table
    with connection.cursor() as cur:
        # The table grows by the import's own rows, which its statistics (analysed before) do not know: told
        # the table is empty, the planner hashed all of the account's rows for every batch (ever more of them).
        # One probe of the unique index per fingerprint (LATERAL ... LIMIT 1) is right at any size.
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(f"SELECT u.fp FROM unnest(%s::varchar[]) AS u(fp) CROSS JOIN LATERAL (SELECT 1 FROM {table} t "
                    "WHERE t.tenant_id = %s AND t.bank_account_id = %s AND t.fingerprint = u.fp LIMIT 1) AS hit",
                    [array_literal(fps), tenant_id, account_id])
        known = {row[0] for row in cur.fetchall()}
        cur.execute("SET LOCAL enable_seqscan TO DEFAULT")
    return known


def _receivable_amounts(receivables) -> list[tuple]:
    """(id, paid, open, status, updated_at) of each receivable, as they are now."""
    return [(r.pk, r.paid_amount, r.open_amount, str(r.status), r.updated_at) for r in receivables]


def _write_receivable_amounts(amounts: list[tuple]) -> None:
    """Write paid/open amount and status of many receivables (`_receivable_amounts`) in one statement
    (Django's bulk_update builds a CASE expression per row and field, which costs more than the whole
    matching)."""
    table = Receivable._meta.db_table
    if connection.vendor == "postgresql":  # one statement for the whole batch
        ids, paid, open_, status, at = (array_literal(col) for col in zip(*amounts, strict=True))
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {table} AS r SET paid_amount = v.paid, open_amount = v.open, status = v.status, "
                "updated_at = v.at FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::text[], "
                "%s::timestamptz[]) AS v(id, paid, open, status, at) WHERE r.id = v.id",
                [ids, paid, open_, status, at])
        return
    ops = connection.ops
    rows = [(ops.adapt_decimalfield_value(paid, 15, 2), ops.adapt_decimalfield_value(open_, 15, 2),
             status, ops.adapt_datetimefield_value(at), pk) for pk, paid, open_, status, at in amounts]
    with connection.cursor() as cur:
        cur.executemany(f"UPDATE {table} SET paid_amount = %s, open_amount = %s, status = %s, updated_at = %s "
                        "WHERE id = %s", rows)


def import_bank_statement(tenant, source, *, actor: str, filename: str = "kontoauszug.xml",
                          now: dt.datetime | None = None) -> ImportResult:
    """Import a camt.053 file (bytes or a binary file object): book every new transaction once,
    match it, and keep the file in the E-Akte.

    All or nothing: a file that turns out malformed half-way is rolled back completely (4xx)."""
    now = now or timezone.now()
    if isinstance(source, bytes | bytearray):
        sha = hashlib.sha256(source).hexdigest()
    else:
        source.seek(0)
        sha, _size = sha256_of(source)
        source.seek(0)
    try:
        with transaction.atomic(), _old_objects_frozen():
            custom_plans()
            importer = _Importer(tenant, actor, sha, None, now)
            entries = _prefetched(_entries(source))
            try:
                for entry in entries:
                    importer.add(entry)
                if importer.statement is None:
                    _check_empty_statement(tenant, source)
                    return ImportResult()
                importer.flush()
                importer.finish_statement()
            finally:
                entries.close()  # stops the parser (thread or process) now, also when the booking failed
                importer.close()
            if not isinstance(source, bytes | bytearray):
                source.seek(0)
            doc = store_document(tenant=tenant, case=None, kind=Document.Kind.OTHER,
                                 title=f"Kontoauszug {importer.statement.statement_id}"[:300], filename=filename,
                                 content_type="application/xml", content=source, actor=actor)
            BankStatement.objects.filter(pk__in=importer.result.statements).update(document=doc)
            res = importer.result
            record_change(
                tenant=tenant, actor=actor, action="bank_statement.imported", object_type="bank_statement",
                object_id=res.statements[0], data={**res.as_dict(), "sha256": sha},
                event_type="bank_statement.imported", event_payload=res.as_dict(),
            )
            return res
    except CamtError as e:
        line = getattr(e, "line", None)
        raise Invalid(f"Der Kontoauszug ist fehlerhaft: {e}", errors=[
            {"pointer": f"/line/{line}" if line else "", "message": str(e), "field": ""}
        ], type="https://rathaus.example/probleme/kontoauszug-fehlerhaft") from e


_GC_TUNED = threading.Lock()  # held by the one import that tunes the collector (others leave it as it is)


@contextlib.contextmanager
def _old_objects_frozen():
    """While a statement is imported, the cyclic garbage collector leaves the objects that existed before
    alone (`gc.freeze`; afterwards they are collected as before), and collects the youngest generation after
    50,000 surviving new objects instead of 700. The import allocates millions of objects, most freed at once
    by their reference counts, but thousands alive at any time (the parser's read-ahead, the batch): each
    full collection walked every object of the process (Django's models, URL patterns, modules …), and the
    young generation was collected every 700 surviving objects (measurements: docs/benchmarks.md). Objects of
    the import are still collected (memory stays bounded: at most 50,000 uncollected young objects). Where the process
    froze objects itself (e.g. a pre-forking server), or another import in this process runs, nothing is
    changed."""
    if gc.get_freeze_count() or not _GC_TUNED.acquire(blocking=False):
        yield
        return
    threshold = gc.get_threshold()
    try:
        gc.freeze()
        gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        _GC_TUNED.release()


def _entries(source):
    """The statement's entries: parsed in a child process for a large file (on another core, see
    `process`), in this process for a small one."""
    limit = settings.RATHAUS_MAX_STATEMENT_BYTES
    size = source_size(source)
    if size is not None and size >= settings.RATHAUS_CAMT_PROCESS_BYTES and sys.executable:
        return parse_camt053_parallel(source, max_bytes=limit)
    return parse_camt053(source, max_bytes=limit)


def _prefetched(iterator, size: int = 2000, chunk: int = 100):
    """Run a (parsing) iterator in a helper thread, `size` items ahead: parsing the XML overlaps with
    the database round trips of the consumer (psycopg releases the GIL while it waits). Items are handed
    over in lists of `chunk` (a queue's put and get take two locks each, in both threads: per item, that was
    a noticeable share of the import). Memory stays bounded by `size`; an exception of the iterator is re-raised in the
    consumer after the items before it."""
    q: queue.Queue = queue.Queue(maxsize=max(1, size // chunk))
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        items: list = []
        try:
            for item in iterator:
                items.append(item)
                if len(items) >= chunk:
                    if not put(items):
                        return
                    items = []
            if items:
                put(items)
                items = []
            q.put(done)
        except BaseException as e:  # noqa: BLE001 - handed over to the consumer
            if items:
                put(items)
            q.put(e)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # a generator's clean-up (e.g. stopping a parser process) runs now
                close()

    worker = threading.Thread(target=produce, name="camt-parser", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)


def _check_empty_statement(tenant, source) -> None:
    if not isinstance(source, bytes | bytearray):
        source.seek(0)
    for info in read_statement_infos(source, max_bytes=settings.RATHAUS_MAX_STATEMENT_BYTES):
        iban = (info.account_iban or info.account_other or "").replace(" ", "").upper()
        if not BankAccount.objects.filter(tenant=tenant, iban=iban, active=True).exists():
            raise Invalid(f"Das Konto {iban or '?'} ist kein Konto von {tenant.name}.")
