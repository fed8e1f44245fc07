"""Stadtkasse operations: Sollstellung (receivables with Kassenzeichen), bank statement import
with automatic matching, the clearing list (Klärfälle) and manual assignment.

Every operation posts to the Doppik journal through `rathaus.ledger.services` in the same
transaction:

- Sollstellung:      Forderung (1611/1631)  an  Ertrag (4xxx, product, cost centre)
- Zahlung zugeordnet: Bank (18xx)  an  Forderung       [Finanzrechnung: 6xxx of the receivable]
  Überzahlung:        Bank (18xx)  an  Verbindlichkeit aus Überzahlung [haushaltsunwirksam 6991]
- Klärfall (Eingang): Bank (18xx)  an  Verwahrgeld (3791)              [haushaltsunwirksam 6991]
- Klärfall (Ausgang): Verwahrgeld (3791)  an  Bank                     [haushaltsunwirksam 7991]
- Manuelle Zuordnung: Verwahrgeld [7991]  an  Forderung [6xxx of the receivable]

Rounding: fee amounts are rounded per fee item to full cents, half up (catalog/fees.py
`round_cents`); the receivable's amount is the sum of its rounded lines; nothing is rounded later.

Bank statements are streamed (camt.053, `camt.parse_camt053`) and processed in batches: one
query per batch finds the receivables whose Kassenzeichen occur in the batch, locked FOR UPDATE,
so memory stays bounded and concurrent imports of the same payment book it once (the bank account
row is locked for the whole import; transactions are unique by fingerprint).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import sys
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from rathaus.core.bulk import any_of, array_literal, custom_plans, insert_rows, reserve_ids
from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.core.jsonpointer import resolve as resolve_pointer
from rathaus.events.models import OutboxEvent
from rathaus.events.services import record_change
from rathaus.ledger import services as ledger
from rathaus.ledger.models import Account
from rathaus.tenants import numbering

from . import kassenzeichen as kzlib
from .models import (
    Allocation,
    BankAccount,
    BankStatement,
    BankTransaction,
    Receivable,
    ReceivableLine,
    ReceivableStatus,
)

log = logging.getLogger("rathaus.finance")
ZERO = Decimal("0.00")
BATCH = 1000
DEFAULT_DUE_DAYS = 30


# --------------------------------------------------------------------------- bank accounts

def ensure_bank_account(tenant) -> BankAccount | None:
    """The tenant's main account (from its master data) as a BankAccount, created on first use."""
    acc = BankAccount.objects.filter(tenant=tenant, active=True).order_by("id").first()
    if acc is not None or not tenant.iban:
        return acc
    bank = Account.objects.filter(tenant=tenant, role=Account.Role.BANK).first()
    acc, _ = BankAccount.objects.get_or_create(
        tenant=tenant, iban=tenant.iban.replace(" ", "").upper(),
        defaults={"bic": tenant.bic, "name": tenant.bank_name or "Girokonto Stadtkasse",
                  "ledger_account": bank.number if bank else "1810000"},
    )
    return acc


def _main_account(tenant_id: int) -> tuple[str, str] | None:
    """(IBAN, BIC) of the tenant's main account, the one `ensure_bank_account` returns: plain SQL, as it is
    read for every notice and the ORM's query building cost several times the query."""
    table = BankAccount._meta.db_table
    with connections[router.db_for_read(BankAccount)].cursor() as cur:
        cur.execute(f"SELECT iban, bic FROM {table} WHERE tenant_id = %s AND active = %s ORDER BY id LIMIT 1",
                    [tenant_id, True])
        return cur.fetchone()


def case_fees(case) -> list[dict]:
    """The fees of a case as the applicant's status page and the clerk's case page show them: per receivable
    (not cancelled) the Kassenzeichen, amount, due date, status, what is still open and the day the last payment
    was booked. One query; the municipal account is added only when something is still to be paid."""
    from django.db.models import Max

    rows = list(Receivable.objects.filter(case=case).exclude(status=ReceivableStatus.CANCELLED)
                .annotate(last_payment=Max("allocations__transaction__booking_date")).order_by("id"))
    from rathaus.core.i18n import choice_label

    account = pay_to(case.tenant) if any(r.open_amount > 0 for r in rows) else None
    return [{"kassenzeichen": r.kassenzeichen_display, "purpose": r.purpose, "amount": r.amount,
             "due_date": r.due_date, "status": r.status, "status_label": choice_label(ReceivableStatus, r.status),
             "open_amount": max(r.open_amount, ZERO),
             "last_payment": r.last_payment, "overdue": r.open_amount > 0 and r.due_date < timezone.localdate(),
             "pay_to": account if r.open_amount > 0 else None} for r in rows]


def pay_to(tenant) -> dict:
    """The municipal account printed on notices and in the GiroCode."""
    row = _main_account(tenant.pk)
    if row is None:
        acc = ensure_bank_account(tenant)  # created from the master data on first use
        row = (acc.iban, acc.bic) if acc else (tenant.iban, tenant.bic)
    return {
        "name": tenant.name,  # the account holder is the municipality itself
        "iban": row[0],
        "bic": row[1] or "",
        "bank_name": tenant.bank_name,
    }


# --------------------------------------------------------------------------- receivables

def _status_for(amount: Decimal, paid: Decimal) -> str:
    if paid <= 0:
        return ReceivableStatus.OPEN
    if paid < amount:
        return ReceivableStatus.PARTIALLY_PAID
    if paid == amount:
        return ReceivableStatus.PAID
    return ReceivableStatus.OVERPAID


def _receivable_event_row(r: Receivable, old_status: str | None = None) -> dict:
    return {
        "tenant_id": r.tenant_id, "type": f"receivable.{r.status}", "aggregate_type": "receivable",
        "aggregate_id": r.kassenzeichen,
        "payload": {"kassenzeichen": r.kassenzeichen, "case": r.case_id, "status": str(r.status),
                    "previous_status": old_status, "amount": str(r.amount), "open_amount": str(r.open_amount)},
    }


def _receivable_event(r: Receivable, old_status: str | None = None) -> OutboxEvent:
    return OutboxEvent(**_receivable_event_row(r, old_status))


@dataclass
class ReceivableLineSpec:
    title: str
    amount: Decimal
    legal_basis: str = ""
    fee_id: str = ""


def create_receivable(
    tenant, *, debtor_name: str, purpose: str, lines: list[ReceivableLineSpec], due_date: dt.date,
    product: str, revenue_account: str, cash_account: str, cost_centre: str = "",
    receivable_account: str = "", case=None, debtor_address: dict | None = None, debtor_email: str = "",
    debtor_iban: str = "", actor: str, now: dt.datetime | None = None,
) -> Receivable:
    """Sollstellung: a receivable with a new Kassenzeichen, posted Forderung an Ertrag."""

    now = now or timezone.now()
    total = sum((Decimal(ln.amount) for ln in lines), ZERO)
    if total <= 0:
        raise Invalid("Eine Forderung braucht einen Betrag größer als 0.")
    if not receivable_account:
        role = Account.Role.RECEIVABLES_TAXES if revenue_account.startswith("40") else Account.Role.RECEIVABLES_FEES
        receivable_account = ledger.account_for_role(tenant, role).number
    with transaction.atomic():
        year = timezone.localtime(now).year
        kz = kzlib.make(year, numbering.next_number(tenant.pk, "KZ", year))
        r = Receivable.objects.create(
            tenant=tenant, kassenzeichen=kz, case=case, debtor_name=debtor_name[:200] or "unbekannt",
            debtor_address=debtor_address or {}, debtor_email=debtor_email, debtor_iban=debtor_iban,
            purpose=purpose[:200], amount=total, paid_amount=ZERO, open_amount=total,
            status=ReceivableStatus.OPEN, due_date=due_date, product=product, revenue_account=revenue_account,
            receivable_account=receivable_account, cash_account=cash_account, cost_centre=cost_centre,
            created_at=now, created_by=actor, updated_at=now,
        )
        ReceivableLine.objects.bulk_create([
            ReceivableLine(receivable=r, position=i, fee_id=ln.fee_id, title=ln.title[:300],
                           legal_basis=ln.legal_basis[:300], amount=Decimal(ln.amount))
            for i, ln in enumerate(lines, start=1)
        ])
        entry_lines = [ledger.Line(account=receivable_account, debit=total, product=product,
                                   cost_centre=cost_centre, text=f"KZ {r.kassenzeichen_display}")]
        entry_lines += [
            ledger.Line(account=revenue_account, credit=Decimal(ln.amount), product=product,
                        cost_centre=cost_centre, text=ln.title[:300])
            for ln in lines if Decimal(ln.amount) > 0
        ]
        ledger.post_entries(tenant, [ledger.EntrySpec(
            date=timezone.localtime(now).date(), text=f"Sollstellung {r.kassenzeichen_display} {purpose}"[:300],
            source_ref=f"receivable:{r.pk}", source_type="receivable", lines=entry_lines)],
            actor=actor, audit=False, now=now)
        record_change(
            tenant=tenant, actor=actor, action="receivable.created", object_type="receivable", object_id=r.pk,
            data={"kassenzeichen": kz, "amount": str(total), "case": case.pk if case else None,
                  "due_date": due_date.isoformat()},
            event_type="receivable.created",
            event_payload={"kassenzeichen": kz, "case": case.pk if case else None, "amount": str(total),
                           "due_date": due_date.isoformat(), "status": r.status},
        )
    return r


def create_receivable_for_case(case, *, actor: str, now: dt.datetime | None = None) -> Receivable | None:
    """Compute the fees of the case's service version and create its receivable (Sollstellung).

    Returns None when the service has no fees or they total 0; idempotent per case."""
    from rathaus.catalog.fees import compute_fees

    existing = Receivable.objects.filter(case=case).first()
    if existing is not None:
        return existing
    sv = case.service_version
    definition = sv.definition or {}
    fees = definition.get("fees") or {}
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    fee_lines = compute_fees(fees, case.data, today=today)
    if not fee_lines or sum((f.amount for f in fee_lines), ZERO) <= 0:
        return None
    acc = definition.get("accounting") or {}
    missing = [k for k in ("product", "revenue_account", "cash_account") if not acc.get(k)]
    if missing:
        raise Invalid(f"Leistung {sv.service.key}: accounting.{', '.join(missing)} fehlt in service.yaml.")
    hints = sv.form_schema.get("x-applicant") or {}
    address = {k: str(resolve_pointer(case.data, p) or "") for k, p in (hints.get("address") or {}).items()}
    iban_ptr = hints.get("iban")
    due_days = int(fees.get("due_days") or DEFAULT_DUE_DAYS)
    return create_receivable(
        case.tenant, case=case, debtor_name=case.applicant_name, debtor_address=address,
        debtor_email=case.applicant_email, debtor_iban=str(resolve_pointer(case.data, iban_ptr) or "") if iban_ptr else "",
        purpose=f"{sv.name} {case.reference}",
        lines=[ReceivableLineSpec(title=f.title, amount=f.amount, legal_basis=f.legal_basis or
                                  fees.get("legal_basis", ""), fee_id=f.id) for f in fee_lines],
        due_date=today + dt.timedelta(days=due_days), product=str(acc["product"]),
        revenue_account=str(acc["revenue_account"]), cash_account=str(acc["cash_account"]),
        cost_centre=str(acc.get("cost_centre") or ""), receivable_account=str(acc.get("receivable_account") or ""),
        actor=actor, now=now,
    )


def cancel_receivable(tenant, kassenzeichen: str, *, reason: str, actor: str,
                      now: dt.datetime | None = None) -> Receivable:
    """Storno of a Sollstellung (e.g. the notice was withdrawn): only while nothing has been paid on it
    (money received must be refunded or re-assigned first); the posting is reversed, never deleted."""
    if not (reason or "").strip():
        raise Invalid("Für die Stornierung ist ein Grund anzugeben.",
                      errors=[{"pointer": "/reason", "message": "Grund fehlt", "field": "Grund"}])
    now = now or timezone.now()
    with transaction.atomic():
        r = (Receivable.objects.select_for_update().filter(tenant=tenant, kassenzeichen=kzlib.normalise(kassenzeichen))
             .first())
        if r is None:
            raise NotFound(f"Kein Kassenzeichen {kassenzeichen!r} bei {tenant.name}.")
        if r.status == ReceivableStatus.CANCELLED:
            raise Conflict("Die Forderung ist bereits storniert.")
        if r.paid_amount != 0:
            raise Conflict("Auf die Forderung ist bereits gezahlt worden; die Zahlung muss zuerst erstattet oder "
                           "umgebucht werden.")
        from rathaus.ledger.models import JournalEntry

        entry = JournalEntry.objects.filter(tenant=tenant, source_ref=f"receivable:{r.pk}").first()
        if entry is not None:
            ledger.reverse_entry(entry, actor=actor, reason=f"Storno Sollstellung {r.kassenzeichen_display}: "
                                                            f"{reason}"[:250], date=timezone.localtime(now).date())
        old = r.status
        r.status = ReceivableStatus.CANCELLED
        r.open_amount = ZERO
        r.updated_at = now
        r.save(update_fields=["status", "open_amount", "updated_at"])
        record_change(tenant=tenant, actor=actor, action="receivable.cancelled", object_type="receivable",
                      object_id=r.pk, data={"kassenzeichen": r.kassenzeichen, "reason": reason[:500]},
                      event_type="receivable.cancelled",
                      event_payload={"kassenzeichen": r.kassenzeichen, "case": r.case_id, "status": r.status,
                                     "previous_status": old})
    return r


OPEN_STATES = (ReceivableStatus.OPEN, ReceivableStatus.PARTIALLY_PAID)


def receivables_for(tenant, *, status: str | None = None, case_id: int | None = None, open_only: bool = False,
                    search: str = ""):
    """The tenant's receivables, newest first; `open_only`: open and partially paid (Offene Posten, by due
    date); `search`: Kassenzeichen (any notation, prefix), debtor or purpose."""
    qs = Receivable.objects.filter(tenant=tenant).select_related("case")
    if status:
        if status not in ReceivableStatus.values:
            raise Invalid(f"Unbekannter Status {status!r}; erlaubt: {', '.join(ReceivableStatus.values)}.")
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.filter(status__in=OPEN_STATES)
    if case_id is not None:
        qs = qs.filter(case_id=case_id)
    search = search.replace("\x00", "")  # typed or pasted; no database column can hold a NUL
    if search:
        cond = Q(debtor_name__icontains=search) | Q(purpose__icontains=search)
        if digits := kzlib.normalise(search):
            cond |= Q(kassenzeichen__startswith=digits)
        qs = qs.filter(cond)
    return qs.order_by("due_date", "id") if open_only else qs.order_by("-created_at", "-id")


def get_receivable(tenant, kassenzeichen: str) -> Receivable:
    kz = kzlib.normalise(kassenzeichen)
    r = Receivable.objects.filter(tenant=tenant, kassenzeichen=kz).select_related("case").first()
    if r is None:
        raise NotFound(f"Kein Kassenzeichen {kassenzeichen!r} bei {tenant.name}.")
    return r


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
    not a model instance (building 45,000 instances, their timestamps and JSON included, cost more than
    the matching)."""

    FIELDS = ("id", "tenant_id", "kassenzeichen", "case_id", "debtor_name", "amount", "paid_amount",
              "open_amount", "status", "product", "receivable_account", "cash_account", "cost_centre")
    __slots__ = (*FIELDS, "updated_at")
    kassenzeichen_display = Receivable.kassenzeichen_display

    def __init__(self, *values):
        # one unpacking, not a setattr per field (45,000 records per import); the order is FIELDS'
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
    settles: list[Decimal]  # per allocation: the part that reduces the Forderung (the rest is overpaid)
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
            from concurrent.futures import ThreadPoolExecutor

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
            import dataclasses

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
            from .models import PaymentRunItem

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
            allocs = self._match(btx, [receivables[k] for k in cands.get(fp, []) if k in receivables])
            settles = []
            for r, a in allocs:
                old_status.setdefault(r.pk, r.status)
                settles.append(min(a, max(r.open_amount, ZERO)))
                r.paid_amount += a
                r.open_amount = r.amount - r.paid_amount
                r.status = _status_for(r.amount, r.paid_amount)
                r.updated_at = self.now
            if allocs or item is not None:
                btx.state = BankTransaction.State.MATCHED.value
                btx.unallocated = ZERO
                self.result.matched += 1
            else:
                self.result.unmatched += 1
            pending.append(_Pending(btx, allocs, settles, item))
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
        events = [_receivable_event_row(r, old_status[r.pk]) for r in touched.values() if r.status != old_status[r.pk]]
        paid_items = [p.run_item for p in pending if p.run_item is not None]
        collective = self._collective(pending)
        tenant, actor, now = self.tenant, self.actor, self.now

        def write():
            if tx_rows is not None:
                insert_rows(BankTransaction, tx_rows, ids=reserved)
            insert_rows(Allocation, alloc_rows, returning=False)
            if amounts:
                _write_receivable_amounts(amounts)
            insert_rows(OutboxEvent, events, returning=False)
            if paid_items:
                from .models import Payable, PaymentRunItem

                PaymentRunItem.objects.bulk_update(paid_items, ["paid"])
                Payable.objects.bulk_update([it.payable for it in paid_items], ["status", "paid_amount", "updated_at"])
                OutboxEvent.objects.bulk_create([OutboxEvent(
                    tenant_id=tenant.pk, type="payable.paid", aggregate_type="payable",
                    aggregate_id=it.payable.number,
                    payload={"number": it.payable.number, "amount": str(it.amount), "run": it.run_id})
                    for it in paid_items])
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
                from .payables import book_run_item_payment

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
            return [ledger.Line(account=self.role(Account.Role.SUSPENSE), debit=btx.amount,
                                cash_account=self.role(Account.Role.SUSPENSE_CASH_OUT), text="Ausgang ungeklärt")]
        lines = []
        rest = btx.amount
        for (r, _a), settle in zip(p.allocations, p.settles, strict=True):
            if settle > 0:
                lines.append(_settle_line(r, settle))
                rest -= settle
        if rest > 0:
            role = Account.Role.OVERPAYMENTS if p.allocations else Account.Role.SUSPENSE
            lines.append(ledger.Line(account=self.role(role), credit=rest,
                                     cash_account=self.role(Account.Role.SUSPENSE_CASH_IN),
                                     # the Kassenzeichen (of the last receivable paid) so that the receivable's
                                     # page finds this line of the statement's collective entry too
                                     text=f"Überzahlung KZ {p.allocations[-1][0].kassenzeichen_display}"
                                     if p.allocations else "ungeklärter Eingang"))
        return lines

    def _match(self, btx: BankTransaction, found: list[Receivable]) -> list[tuple[Receivable, Decimal]]:
        """Decide how an incoming payment settles receivables.

        - one Kassenzeichen: the whole amount goes to it (partial payment, exact or overpayment);
        - several: when the amount equals their open total, each is settled; when it equals the open
          amount of exactly one of them, that one; otherwise the payment goes to the clearing list;
        - currency other than EUR, reversals, debits and returns: clearing list.
        """
        if not found or not btx.credit or btx.reversal or btx.currency != "EUR" or btx.amount <= 0:
            if found and btx.currency != "EUR":
                btx.note = "Fremdwährung: bitte manuell prüfen."
            return []
        if len(found) == 1:
            r = found[0]
            if btx.counterparty_name and r.debtor_name and not _names_overlap(btx.counterparty_name, r.debtor_name):
                btx.note = f"Zahlung durch Dritte ({btx.counterparty_name[:80]})"[:300]
            return [(r, btx.amount)]
        open_total = sum((max(r.open_amount, ZERO) for r in found), ZERO)
        if open_total == btx.amount:
            return [(r, max(r.open_amount, ZERO)) for r in found if r.open_amount > 0]
        exact = [r for r in found if r.open_amount == btx.amount]
        if len(exact) == 1:
            return [(exact[0], btx.amount)]
        btx.note = "Mehrere Kassenzeichen im Verwendungszweck; Betrag passt zu keiner Aufteilung."
        return []


def _known_fingerprints(tenant_id: int, account_id: int, fps: list[str]) -> set[str]:
    """The fingerprints of `fps` already booked for this account (one query per batch; on PostgreSQL the
    array is one parameter and each fingerprint one probe of the unique index)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return set(BankTransaction.objects.filter(tenant_id=tenant_id, bank_account_id=account_id,
                                                  fingerprint__in=fps).order_by().values_list("fingerprint", flat=True))
    table = BankTransaction._meta.db_table
    with connection.cursor() as cur:
        # The table grows by the import's own rows, which its statistics (analysed before) do not know: told
        # the table is empty, the planner hashed all of the account's rows for every batch (30-70 ms, growing).
        # One probe of the unique index per fingerprint (LATERAL ... LIMIT 1) is right at any size.
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(f"SELECT u.fp FROM unnest(%s::varchar[]) AS u(fp) CROSS JOIN LATERAL (SELECT 1 FROM {table} t "
                    "WHERE t.tenant_id = %s AND t.bank_account_id = %s AND t.fingerprint = u.fp LIMIT 1) AS hit",
                    [array_literal(fps), tenant_id, account_id])
        known = {row[0] for row in cur.fetchall()}
        cur.execute("SET LOCAL enable_seqscan TO DEFAULT")
    return known


def _settle_line(r: Receivable, amount: Decimal) -> ledger.Line:
    """The credit line that reduces a Forderung, with its Einzahlungskonto for the Finanzrechnung."""
    return ledger.Line(account=r.receivable_account, credit=amount, product=r.product, cost_centre=r.cost_centre,
                       cash_account=r.cash_account, text=f"KZ {r.kassenzeichen_display}")


def _receivable_amounts(receivables) -> list[tuple]:
    """(id, paid, open, status, updated_at) of each receivable, as they are now."""
    return [(r.pk, r.paid_amount, r.open_amount, str(r.status), r.updated_at) for r in receivables]


def _write_receivable_amounts(amounts: list[tuple]) -> None:
    """Write paid/open amount and status of many receivables (`_receivable_amounts`) in one statement
    (Django's bulk_update builds a CASE expression per row and field, which costs more than the whole
    matching)."""
    from django.db import connection

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


def _names_overlap(a: str, b: str) -> bool:
    return bool(_name_words(a) & _name_words(b))


def import_bank_statement(tenant, source, *, actor: str, filename: str = "kontoauszug.xml",
                          now: dt.datetime | None = None) -> ImportResult:
    """Import a camt.053 file (bytes or a binary file object): book every new transaction once,
    match it, and keep the file in the E-Akte.

    All or nothing: a file that turns out malformed half-way is rolled back completely (4xx)."""
    from rathaus.documents.models import Document
    from rathaus.documents.services import sha256_of, store_document

    from .bank.camt_model import CamtError

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
    young generation was collected ≈ 1,400 times for 50,000 entries – together ≈ 0.5 s. Objects of the import
    are still collected (memory stays bounded: at most 50,000 uncollected young objects). Where the process
    froze objects itself (e.g. a pre-forking server), or another import in this process runs, nothing is
    changed."""
    import gc

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
    `camt_process`), in this process for a small one."""
    from .bank.camt import parse_camt053
    from .bank.process import parse_camt053_parallel, source_size

    limit = settings.RATHAUS_MAX_STATEMENT_BYTES
    size = source_size(source)
    if size is not None and size >= settings.RATHAUS_CAMT_PROCESS_BYTES and sys.executable:
        return parse_camt053_parallel(source, max_bytes=limit)
    return parse_camt053(source, max_bytes=limit)


def _prefetched(iterator, size: int = 2000, chunk: int = 100):
    """Run a (parsing) iterator in a helper thread, `size` items ahead: parsing the XML overlaps with
    the database round trips of the consumer (psycopg releases the GIL while it waits). Items are handed
    over in lists of `chunk` (a queue's put and get take two locks each: per item that was ≈ 5 µs of both
    threads' time). Memory stays bounded by `size`; an exception of the iterator is re-raised in the
    consumer after the items before it."""
    import queue
    import threading

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
    from .bank.camt import read_statement_infos

    if not isinstance(source, bytes | bytearray):
        source.seek(0)
    for info in read_statement_infos(source, max_bytes=settings.RATHAUS_MAX_STATEMENT_BYTES):
        iban = (info.account_iban or info.account_other or "").replace(" ", "").upper()
        if not BankAccount.objects.filter(tenant=tenant, iban=iban, active=True).exists():
            raise Invalid(f"Das Konto {iban or '?'} ist kein Konto von {tenant.name}.")


# --------------------------------------------------------------------------- clearing list

def clearing_list(tenant):
    return (BankTransaction.objects.filter(tenant=tenant, state=BankTransaction.State.CLEARING)
            .select_related("statement").order_by("booking_date", "id"))


# --------------------------------------------------------------------------- returned payments in the clearing list

# ISO 20022 ExternalReturnReason1Code: the codes German banks give for a returned credit transfer (RtrInf/Rsn)
RETURN_REASONS = {
    "AC01": "IBAN fehlerhaft", "AC03": "Konto des Empfängers ungültig", "AC04": "Konto erloschen",
    "AC06": "Konto gesperrt", "AC13": "Kontoart passt nicht (Verbraucherkonto)", "AG01": "Buchung auf dem Konto nicht zulässig",
    "AG02": "ungültiger Geschäftsvorfall", "AM05": "Doppelzahlung", "BE04": "Anschrift des Empfängers fehlt",
    "CUST": "vom Empfänger abgelehnt", "FOCR": "Rückgabe nach Rückrufanfrage", "MD07": "Kontoinhaber verstorben",
    "MS02": "vom Empfänger abgelehnt, ohne Angabe von Gründen", "MS03": "ohne Angabe von Gründen",
    "RC01": "BIC fehlerhaft", "RR01": "Konto oder Name des Auftraggebers fehlt (Regulatorik)",
    "RR02": "Name oder Anschrift des Auftraggebers fehlt", "RR03": "Name oder Anschrift des Empfängers fehlt",
    "RR04": "regulatorische Gründe", "SL01": "besondere Dienstleistung der Bank", "TM01": "nach Annahmeschluss",
}


def returned_payments(tenant, transactions) -> dict[int, dict]:
    """Incoming clearing items that are a credit transfer of ours coming back (a return reason in the
    statement): the reason in words and, where the end-to-end id is one of a payment run, the payable it paid.
    One query per page."""
    items = [t for t in transactions if t.credit and t.return_reason]
    if not items:
        return {}
    from .models import PaymentRunItem

    runs = {it.end_to_end_id: it for it in PaymentRunItem.objects.filter(
        run__tenant=tenant, end_to_end_id__in={t.end_to_end_id for t in items if t.end_to_end_id})
        .select_related("payable", "run")}
    out = {}
    for t in items:
        it = runs.get(t.end_to_end_id)
        out[t.pk] = {"code": t.return_reason, "reason": RETURN_REASONS.get(t.return_reason, ""),
                     "payable": it.payable.number if it else "", "creditor": it.payable.creditor_name if it else "",
                     "run": it.run.number if it else ""}
    return out


# --------------------------------------------------------------------------- suggestions for the clearing list

_AKTENZEICHEN = re.compile(r"\b([A-Z]{2,6})[\s\-/.]*(20\d\d)[\s\-/.]*(\d{1,6})\b")
MAX_SUGGESTIONS = 5


@dataclass
class Suggestion:
    """An open receivable the payer probably meant, and why (shown to the treasury, never booked alone)."""

    receivable: Receivable
    # (code, detail): kz_typo, kz_swap, kz_no_check (a Kassenzeichen the check digits refused, or without
    # them), aktenzeichen (detail: the reference), name_amount, amount (the open amount equals the payment)
    reasons: list[tuple[str, str]] = field(default_factory=list)
    score: int = 0

    @property
    def reason_codes(self) -> list[str]:
        return [code for code, _ in self.reasons]


def clearing_suggestions(tenant, transactions) -> dict[int, list[Suggestion]]:
    """For the clearing items shown (one page): the open receivables their payers probably meant.

    Reasons, strongest first: a Kassenzeichen with one typed digit or one swap of adjacent digits (which the
    check digits refuse), or without its check digits; the Aktenzeichen of the case in the remittance text;
    the debtor's name together with the exact open amount. Then whether the amount and the name fit. At most
    MAX_SUGGESTIONS per item; at most five queries per page, whatever its size (Kassenzeichen and Aktenzeichen by
    their unique indexes; name and amount over the tenant's open receivables, limited)."""
    from rathaus.cases.models import Case
    from rathaus.catalog.models import ServiceVersion

    items = [t for t in transactions if t.credit and t.unallocated > 0]
    if not items:
        return {}
    open_states = (ReceivableStatus.OPEN, ReceivableStatus.PARTIALLY_PAID)
    by_kz: dict[int, dict[str, str]] = {}
    by_ref: dict[int, set[str]] = {}
    prefixes = set(ServiceVersion.objects.filter(service__tenant=tenant).values_list("reference_prefix", flat=True)
                   .distinct().order_by())  # "KZ 2026-000123-45" is no Aktenzeichen, "GEW 2026 123" is
    for t in items:
        text = f"{t.remittance}\n{t.end_to_end_id}".upper()
        refs = [m for m in _AKTENZEICHEN.finditer(text) if m.group(1) in prefixes]
        by_ref[t.pk] = {numbering.format_reference(m.group(1), int(m.group(2)), int(m.group(3))) for m in refs}
        # the digits of an Aktenzeichen (GEW-2026-000001) are not a Kassenzeichen without its check digits
        for m in reversed(refs):
            text = text[:m.start()] + "\n" + text[m.end():]
        by_kz[t.pk] = kzlib.near_misses(text)
    all_kz = {k for d in by_kz.values() for k in d}
    all_refs = {r for refs in by_ref.values() for r in refs}
    receivables: dict[str, Receivable] = {}
    if all_kz:
        for r in any_of(Receivable.objects.filter(tenant=tenant, status__in=open_states), "kassenzeichen",
                        sorted(all_kz)):
            receivables[r.kassenzeichen] = r
    case_receivables: dict[str, list[Receivable]] = {}
    if all_refs:
        ids = dict(Case.objects.filter(tenant=tenant, reference__in=sorted(all_refs)).values_list("pk", "reference"))
        for r in (Receivable.objects.filter(tenant=tenant, case_id__in=list(ids), status__in=open_states)
                  .order_by("id")):
            case_receivables.setdefault(ids[r.case_id], []).append(r)
    # name + exact open amount: only receivables whose open amount is one of the page's amounts and whose
    # debtor shares a word of a payer's name (SQL), the exact word check in Python
    words = {w for t in items for w in _name_words(t.counterparty_name)}
    named: list[Receivable] = []
    if words:
        # SQLite's LIKE folds the case of ASCII letters only (PostgreSQL's ILIKE all): a word with other letters
        # is looked for as written in lower case, capitals and with a capital first letter (müller, MÜLLER,
        # Öztürk), the spellings names come in; the exact word check follows in Python
        cond = Q()
        for w in sorted(words)[:40]:
            for v in {w} if w.isascii() else {w, w.upper(), w.capitalize()}:
                cond |= Q(debtor_name__icontains=v)
        named = list(Receivable.objects.filter(tenant=tenant, status__in=open_states,
                                               open_amount__in={t.unallocated for t in items})
                     .filter(cond).order_by("due_date", "id")[:500])
    out: dict[int, list[Suggestion]] = {}
    for t in items:
        found: dict[int, Suggestion] = {}

        def add(r, reason, score, detail="", found=found):
            s = found.setdefault(r.pk, Suggestion(r))
            if all(code != reason for code, _ in s.reasons):
                s.reasons.append((reason, detail))
                s.score += score

        for kz, how in by_kz[t.pk].items():
            if kz in receivables:
                add(receivables[kz], {"Tippfehler": "kz_typo", "Zahlendreher": "kz_swap"}.get(how, "kz_no_check"), 40)
        for ref in sorted(by_ref[t.pk]):
            for r in case_receivables.get(ref, []):
                add(r, "aktenzeichen", 30, ref)
        payer = _name_words(t.counterparty_name)
        for r in named:
            if r.open_amount == t.unallocated and payer & _name_words(r.debtor_name):
                add(r, "name_amount", 20)
        for s in found.values():
            if s.receivable.open_amount == t.unallocated and "name_amount" not in s.reason_codes:
                add(s.receivable, "amount", 5)
        out[t.pk] = sorted(found.values(), key=lambda s: (-s.score, s.receivable.due_date, s.receivable.pk)
                           )[:MAX_SUGGESTIONS]
    return out


_NOT_A_NAME = frozenset({"und", "gmbh", "mbh", "e.k.", "herr", "frau", "familie", "fam", "co.", "kg", "ohg", "bank",
                         "sparkasse"})
_NAME_SEPARATORS = re.compile(r"[\s,;/&+\-]+")


def _name_words(name: str) -> set[str]:
    """The words of a name that identify a person (not "und", "GmbH", initials): lower case, ≥ 3 letters."""
    return {w for w in _NAME_SEPARATORS.split((name or "").lower()) if len(w) > 2 and w not in _NOT_A_NAME}


def assign_transaction(tenant, tx_id: int, *, kassenzeichen: str, amount: Decimal | None = None, actor: str,
                       note: str = "", now: dt.datetime | None = None) -> Allocation:
    """Manual assignment of (part of) a clearing item to a receivable (Verwahrgeld an Forderung)."""
    now = now or timezone.now()
    with transaction.atomic():
        btx = BankTransaction.objects.select_for_update().filter(tenant=tenant, pk=tx_id).first()
        if btx is None:
            raise NotFound("Diesen Kontoumsatz gibt es nicht.")
        if btx.state not in (BankTransaction.State.CLEARING,) or btx.unallocated <= 0:
            raise Conflict("Dieser Kontoumsatz ist bereits vollständig zugeordnet oder erledigt.")
        if not btx.credit:
            raise Conflict("Abbuchungen können keiner Forderung zugeordnet werden.")
        kz = kzlib.normalise(kassenzeichen)
        if not kzlib.is_valid(kz):
            raise Invalid("Das Kassenzeichen ist ungültig (Prüfziffer stimmt nicht).",
                          errors=[{"pointer": "/kassenzeichen", "message": "Prüfziffer stimmt nicht",
                                   "field": "Kassenzeichen"}])
        r = Receivable.objects.select_for_update().filter(tenant=tenant, kassenzeichen=kz).first()
        if r is None:
            raise NotFound(f"Kein Kassenzeichen {kzlib.display(kz)}.")
        if r.status == ReceivableStatus.CANCELLED:
            raise Conflict("Die Forderung ist storniert.")
        amount = btx.unallocated if amount is None else Decimal(amount)
        if amount <= 0 or amount > btx.unallocated or amount != amount.quantize(Decimal("0.01")):
            raise Invalid(f"Betrag muss zwischen 0,01 und {btx.unallocated} liegen (centgenau).",
                          errors=[{"pointer": "/amount", "message": "Betrag außerhalb des Umsatzes", "field": "Betrag"}])
        old = r.status
        settle = min(amount, max(r.open_amount, ZERO))
        r.paid_amount += amount
        r.open_amount = r.amount - r.paid_amount
        r.status = _status_for(r.amount, r.paid_amount)
        r.updated_at = now
        r.save(update_fields=["paid_amount", "open_amount", "status", "updated_at"])
        btx.unallocated -= amount
        if btx.unallocated == 0:
            btx.state = BankTransaction.State.ASSIGNED
            btx.resolved_at, btx.resolved_by = now, actor
        btx.note = (note or btx.note)[:300]
        btx.save(update_fields=["unallocated", "state", "resolved_at", "resolved_by", "note"])
        alloc = Allocation.objects.create(tenant=tenant, transaction=btx, receivable=r, amount=amount, manual=True,
                                          created_at=now, created_by=actor)
        suspense = ledger.account_for_role(tenant, Account.Role.SUSPENSE).number
        lines = [ledger.Line(account=suspense, debit=amount,
                             cash_account=ledger.account_for_role(tenant, Account.Role.SUSPENSE_CASH_OUT).number)]
        if settle > 0:
            lines.append(_settle_line(r, settle))
        if amount - settle > 0:
            lines.append(ledger.Line(account=ledger.account_for_role(tenant, Account.Role.OVERPAYMENTS).number,
                                     credit=amount - settle,
                                     cash_account=ledger.account_for_role(tenant, Account.Role.SUSPENSE_CASH_IN).number,
                                     text=f"Überzahlung KZ {r.kassenzeichen_display}"))
        ledger.post_entries(tenant, [ledger.EntrySpec(
            date=timezone.localtime(now).date(), text=f"Zuordnung Klärfall {btx.pk} an KZ {r.kassenzeichen_display}",
            source_ref=f"allocation:{alloc.pk}", source_type="allocation", lines=lines)], actor=actor, audit=False,
            now=now)
        record_change(tenant=tenant, actor=actor, action="bank_transaction.assigned", object_type="bank_transaction",
                      object_id=btx.pk, data={"kassenzeichen": kz, "amount": str(amount), "note": note[:300]},
                      event_type=None)
        if r.status != old:
            _receivable_event(r, old).save()
    return alloc


def resolve_transaction(tenant, tx_id: int, *, actor: str, note: str, now: dt.datetime | None = None
                        ) -> BankTransaction:
    """Close a clearing item without a receivable (e.g. refunded, booked elsewhere), with a reason."""
    if not note.strip():
        raise Invalid("Bitte einen Vermerk angeben, warum der Klärfall ohne Zuordnung erledigt ist.",
                      errors=[{"pointer": "/note", "message": "Vermerk fehlt", "field": "Vermerk"}])
    now = now or timezone.now()
    with transaction.atomic():
        btx = BankTransaction.objects.select_for_update().filter(tenant=tenant, pk=tx_id).first()
        if btx is None:
            raise NotFound("Diesen Kontoumsatz gibt es nicht.")
        if btx.state != BankTransaction.State.CLEARING:
            raise Conflict("Dieser Kontoumsatz ist kein offener Klärfall.")
        btx.state = BankTransaction.State.IGNORED
        btx.note = note[:300]
        btx.resolved_at, btx.resolved_by = now, actor
        btx.save(update_fields=["state", "note", "resolved_at", "resolved_by"])
        record_change(tenant=tenant, actor=actor, action="bank_transaction.resolved", object_type="bank_transaction",
                      object_id=btx.pk, data={"note": note[:300]}, event_type=None)
    return btx



# --------------------------------------------------------------------------- demo

def demo_statement_for(r: Receivable, *, amount: Decimal | None = None, version: str = "camt.053.001.08") -> bytes:
    """A camt.053 statement of the tenant's account in which the debtor pays this receivable (demo and
    tests: try the import without a bank). The Kassenzeichen is split over two remittance lines, as
    banks do with long texts."""
    import io

    from .bank.writer import WriterEntry, write_camt053

    acc = ensure_bank_account(r.tenant)
    now = timezone.now()
    today = timezone.localdate()
    amount = r.open_amount if amount is None else amount
    out = io.BytesIO()
    ref = hashlib.sha256(f"{r.tenant_id}:{r.kassenzeichen}:{now.isoformat()}".encode()).hexdigest()[:16].upper()
    write_camt053(
        out, version=version, account_iban=acc.iban, account_owner=r.tenant.name, servicer_bic=acc.bic,
        statement_id=f"DEMO-{today:%Y%m%d}-{ref[:6]}", message_id=f"DEMO{ref}", created_at=now,
        opening_balance=Decimal("0.00"),
        entries=[WriterEntry(amount=amount, booking_date=today, credit=True, debtor_name=r.debtor_name or "Zahler",
                             debtor_iban="DE89370400440532013000", account_servicer_ref=f"DEMO{ref}",
                             remittance=f"Kassenzeichen {r.kassenzeichen_display} {r.purpose}"[:280])],
    )
    return out.getvalue()


def demo_statement_for_run(run) -> bytes:
    """A camt.053 statement in which the bank executed every transfer of a payment run (one debit per
    transfer with its end-to-end id) – demo and tests only."""
    import io

    from .bank.writer import WriterEntry, write_camt053

    now = timezone.now()
    out = io.BytesIO()
    entries = [WriterEntry(amount=it.amount, booking_date=run.execution_date, credit=False,
                           end_to_end_id=it.end_to_end_id, creditor_name=it.payable.creditor_name,
                           creditor_iban=it.payable.creditor_iban, remittance=it.payable.remittance,
                           account_servicer_ref=f"DEMO-{it.end_to_end_id}")
               for it in run.items.select_related("payable").order_by("id")]
    write_camt053(out, account_iban=run.bank_account.iban, account_owner=run.tenant.name,
                  servicer_bic=run.bank_account.bic, statement_id=f"DEMO-{run.number}",
                  message_id=f"DEMO-{run.message_id}"[:35], created_at=now, opening_balance=Decimal("0.00"),
                  entries=entries)
    return out.getvalue()
