"""Demo bank statements: camt.053 files in which the bank did what the demo needs, to try the import without a
bank – a debtor pays a receivable, the bank executes a payment run. Demo and tests only."""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal

from django.utils import timezone

from rathaus.finance.bank.writer import WriterEntry, write_camt053
from rathaus.finance.models import Receivable
from rathaus.finance.receivables import ensure_bank_account


def demo_statement_for(r: Receivable, *, amount: Decimal | None = None, version: str = "camt.053.001.08") -> bytes:
    """A camt.053 statement of the tenant's account in which the debtor pays this receivable (its open amount, or
    `amount`). The Kassenzeichen is split over two remittance lines, as banks do with long texts."""
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
    transfer with its end-to-end id)."""
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
