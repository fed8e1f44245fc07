"""The payment part of a notice – fee lines, Kassenzeichen, amount, due date, the account to pay to – as
given by the app that keeps receivables (finance registers its provider from its AppConfig.ready).

notices renders what it is given (the fee table, the payment request and the GiroCode) and never reads
receivables itself. Without a provider a notice simply has no payment part.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Fee:
    title: str
    legal_basis: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentRequest:
    kassenzeichen: str  # as stored (the key of the receivable)
    kassenzeichen_display: str  # as printed (with its separators)
    amount: Decimal
    due_date: dt.date
    purpose: str
    payee: dict  # the account to pay to: name, iban, bic, bank_name
    fees: list[Fee] = field(default_factory=list)


# provider(case, now) -> PaymentRequest | None: on approval, the case's receivable (created on first call,
# idempotent per case) as a payment request; None if the case costs nothing
_providers: list[Callable] = []


def register_payment_provider(provider: Callable) -> None:
    _providers[:] = [provider]


def payment_request_for(case, now) -> PaymentRequest | None:
    return _providers[0](case, now) if _providers else None
