"""What finance gives the apps below it through their registries (registered in `apps.Config.ready`):

- to notices: the payment part of an approval notice – the case's receivable, created on first call
  (Sollstellung, idempotent per case), as a `notices.payments.PaymentRequest`;
- to cases: the fees of a case for the clerk's case page and the applicant's status page (`case_fees`).

The receiving apps never name finance; finance is above both.
"""

from __future__ import annotations

from rathaus.notices.payments import Fee, PaymentRequest

from .receivables import create_receivable_for_case, pay_to


def payment_request(receivable, tenant=None) -> PaymentRequest:
    """A receivable as the notice prints it. `tenant`: the receivable's, if already loaded (saves a query)."""
    lines = sorted(receivable.lines.all(), key=lambda ln: (ln.position, ln.pk or 0))
    return PaymentRequest(
        kassenzeichen=receivable.kassenzeichen, kassenzeichen_display=receivable.kassenzeichen_display,
        amount=receivable.amount, due_date=receivable.due_date, purpose=receivable.purpose,
        payee=dict(pay_to(tenant if tenant is not None else receivable.tenant) or {}),
        fees=[Fee(ln.title, ln.legal_basis, ln.amount) for ln in lines],
    )


def payment_on_approval(case, now) -> PaymentRequest | None:
    """The notices' payment provider: the case's receivable (None if its service costs nothing)."""
    receivable = create_receivable_for_case(case, actor="Prozess", now=now)
    return payment_request(receivable, case.tenant) if receivable is not None else None
