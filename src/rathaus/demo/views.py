"""Demo downloads on the Stadtkasse's pages (only with RATHAUS_SHOW_DEMO_LOGINS): the bank statement that pays a
receivable, and the one that shows the debits of a payment run (`statements`). Same addresses and roles as the
pages that offer them."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse

from rathaus.core.errors import NotFound
from rathaus.finance.payables import get_payment_run
from rathaus.finance.receivables import get_receivable
from rathaus.finance.views import treasury_view

from .statements import demo_statement_for, demo_statement_for_run


def _demo_only() -> None:
    if not getattr(settings, "RATHAUS_SHOW_DEMO_LOGINS", False):
        raise Http404("Nur in der Demo")


@treasury_view()
def receivable_statement(request, membership, kassenzeichen: str):
    """A camt.053 file that pays this receivable (to try the import without a bank)."""
    _demo_only()
    try:
        r = get_receivable(membership.tenant, kassenzeichen)
    except NotFound as e:
        raise Http404(str(e)) from e
    resp = HttpResponse(demo_statement_for(r), content_type="application/xml")
    resp["Content-Disposition"] = f'attachment; filename="camt053-{r.kassenzeichen}.xml"'
    return resp


@treasury_view()
def run_statement(request, membership, run_id: int):
    """The bank statement that shows the debits of this payment run."""
    _demo_only()
    try:
        run = get_payment_run(membership.tenant, run_id)
    except NotFound as e:
        raise Http404(str(e)) from e
    resp = HttpResponse(demo_statement_for_run(run), content_type="application/xml")
    resp["Content-Disposition"] = f'attachment; filename="camt053-{run.number}.xml"'
    return resp
