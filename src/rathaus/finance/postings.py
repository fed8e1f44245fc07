"""The journal lines of the Stadtkasse's postings on receivables, built in one place.

A payment on receivables is booked alike wherever it is decided, in the collective entry of a bank statement
(`bank.importer`) and in the manual assignment of a clearing item (`clearing.assign_transaction`):

- Sollstellung:        Forderung (1611/1631)  an  Ertrag (4xxx, product, cost centre)
- Zahlung zugeordnet:  … an Forderung                          [Finanzrechnung: 6xxx of the receivable]
  Überzahlung:         … an Verbindlichkeit aus Überzahlung    [haushaltsunwirksam 6991]
- Klärfall (Eingang):  … an Verwahrgeld (3791)                 [haushaltsunwirksam 6991]
- Klärfall (Ausgang):  Verwahrgeld (3791) an …                 [haushaltsunwirksam 7991]

The debit side of a payment is the bank (the import sums it per booking day) or, for a clearing item assigned
by hand, the Verwahrgeld it was parked on (`suspense_debit`). Accounts that depend on the tenant's chart are
asked for by role (`account(role) -> number`), only when a line needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from rathaus.ledger.models import Account
from rathaus.ledger.services import Line, account_for_role

Role = Account.Role
AccountOf = Callable[[str], str]  # the number of the tenant's account for a chart role


def chart_accounts(tenant) -> AccountOf:
    """The tenant's account numbers by role, looked up when asked for (one query each)."""
    return lambda role: account_for_role(tenant, role).number


def sollstellung_lines(r, lines: Sequence) -> list[Line]:
    """Forderung an Ertrag: the receivable's whole amount on its Forderungskonto, each fee item (`title`,
    `amount`) on the revenue account; product and cost centre on both sides."""
    out = [Line(account=r.receivable_account, debit=r.amount, product=r.product, cost_centre=r.cost_centre,
                text=f"KZ {r.kassenzeichen_display}")]
    out += [Line(account=r.revenue_account, credit=Decimal(ln.amount), product=r.product, cost_centre=r.cost_centre,
                 text=ln.title[:300])
            for ln in lines if Decimal(ln.amount) > 0]
    return out


def settle_line(r, amount: Decimal) -> Line:
    """The credit line that reduces a Forderung, with its Einzahlungskonto for the Finanzrechnung."""
    return Line(account=r.receivable_account, credit=amount, product=r.product, cost_centre=r.cost_centre,
                cash_account=r.cash_account, text=f"KZ {r.kassenzeichen_display}")


def payment_lines(amount: Decimal, settlements: Sequence[tuple[object, Decimal]], account: AccountOf) -> list[Line]:
    """The credit side of an incoming payment of `amount`: for each (receivable, part that settles its Forderung)
    a line on the Forderung (`settle_line`; parts of 0 give none), and the rest, if any, as an overpayment of
    the last receivable (Verbindlichkeit aus Überzahlung, with its Kassenzeichen so that the receivable's page
    finds the line) or, when the payment belongs to no receivable, as Verwahrgeld (ungeklärter Eingang)."""
    lines = []
    rest = amount
    for r, settled in settlements:
        if settled > 0:
            lines.append(settle_line(r, settled))
            rest -= settled
    if rest > 0:
        if settlements:
            lines.append(Line(account=account(Role.OVERPAYMENTS), credit=rest,
                              cash_account=account(Role.SUSPENSE_CASH_IN),
                              text=f"Überzahlung KZ {settlements[-1][0].kassenzeichen_display}"))
        else:
            lines.append(Line(account=account(Role.SUSPENSE), credit=rest, cash_account=account(Role.SUSPENSE_CASH_IN),
                              text="ungeklärter Eingang"))
    return lines


def suspense_debit(amount: Decimal, account: AccountOf, text: str = "") -> Line:
    """Verwahrgeld an …: money leaves the suspense account (an unexplained debit, or a clearing item assigned
    to a receivable), haushaltsunwirksam."""
    return Line(account=account(Role.SUSPENSE), debit=amount, cash_account=account(Role.SUSPENSE_CASH_OUT), text=text)
