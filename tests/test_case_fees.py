"""The fees of a case (`finance.receivables.case_fees`) on the clerk's case page; the applicant's status page is
covered by tests/test_end_to_end_money.py."""

import datetime as dt

from django.test import Client

from rathaus.finance import kassenzeichen as kz
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.finance.models import Receivable

from .test_finance_statements import pay, receivable, statement


def test_the_clerks_case_page_shows_the_fee_and_its_payment(seeded, submit):
    """The citizen who calls about the payment: the clerk sees Kassenzeichen, amount and payment status on the
    case page; the treasury roles get a link to the receivable."""
    from rathaus.cases.models import Case

    t = seeded["musterstadt"]
    case = Case.objects.get(pk=submit()["id"])
    r = receivable(t)
    Receivable.objects.filter(pk=r.pk).update(case=case)
    import_bank_statement(t, statement([pay("10.00", f"KZ {kz.display(r.kassenzeichen)}", "C1")]), actor="kasse")
    clerk = Client()
    assert clerk.login(username="sachbearbeitung", password="rathaus-demo")
    page = clerk.get(f"/sachbearbeitung/vorgaenge/{case.pk}/").content.decode()
    assert 'id="gebuehren"' in page and kz.display(r.kassenzeichen) in page
    assert "26,00 €" in page and "16,00 €" in page and "teilweise bezahlt" in page
    assert f"letzte Zahlung gebucht am {dt.date.today():%d.%m.%Y}" in page
    assert f"/kasse/forderungen/{kz.display(r.kassenzeichen)}/" not in page  # no treasury link for a clerk
    kasse = Client()
    assert kasse.login(username="kasse", password="rathaus-demo")
    assert f"/kasse/forderungen/{kz.display(r.kassenzeichen)}/" in kasse.get(
        f"/sachbearbeitung/vorgaenge/{case.pk}/").content.decode()
