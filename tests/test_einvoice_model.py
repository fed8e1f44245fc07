"""The neutral EN 16931 model: both parsers read every corpus instance, UBL and CII of the same
business case give the same model, concrete values, the German HTML view and the PDF."""

from __future__ import annotations

import re
from dataclasses import astuple
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from rathaus.einvoice.parse import InvoiceParseError, detect_syntax, parse_invoice, parse_xml

CORPORA = Path(__file__).resolve().parent / "corpora"   # vendored public test data (corpora/SOURCES.md)
TESTSUITE = CORPORA / "xrechnung-testsuite"


def _corpus() -> list[Path]:
    files = sorted(TESTSUITE.rglob("*.xml"))
    for sub in ("ubl/examples", "cii/examples"):
        files += sorted(p for p in (CORPORA / "en16931-cen" / sub).glob("*") if p.suffix.lower() == ".xml")
    return files


def _pairs() -> list[tuple[Path, Path]]:
    out = []
    for ubl in sorted(TESTSUITE.rglob("*_ubl.xml")):
        cii = ubl.with_name(ubl.name.replace("_ubl.xml", "_uncefact.xml"))
        if cii.exists():
            out.append((ubl, cii))
    return out


FILES = _corpus()
PAIRS = _pairs()
# where the KoSIT test data itself differs between the UBL and the CII file of a case
KNOWN_DATA_DIFFERENCES = {
    "01.21a": {"seller_vat_id"},                        # different seller VAT ids in the two files
    "01.01_comprehensive": {"buyer_name", "preceding"},  # UBL RegistrationName holds the trading name;
    "01.02_comprehensive": {"buyer_name"},               # CII carries only one preceding invoice
    "01.03_comprehensive": {"buyer_name"},
    "01.04_comprehensive": {"buyer_name"},
}


def _parse(path: Path):
    root = parse_xml(path.read_bytes())
    return parse_invoice(root, detect_syntax(root))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPORA)) for p in FILES])
def test_every_corpus_instance_parses(path):
    inv = _parse(path)
    assert inv.number
    assert inv.issue_date is not None
    assert inv.currency
    assert inv.seller.name
    assert inv.lines
    assert inv.totals.payable is not None


def _main_terms(inv) -> dict:
    zero = Decimal(0)
    return {
        "number": inv.number, "issue_date": inv.issue_date, "due_date": inv.due_date, "type_code": inv.type_code,
        "currency": inv.currency, "seller_name": inv.seller.name, "buyer_name": inv.buyer.name,
        "seller_vat_id": inv.seller.vat_id, "buyer_vat_id": inv.buyer.vat_id, "leitweg_id": inv.buyer_reference,
        "leitweg_valid": inv.leitweg_id_valid,
        "totals": [v if v is not None else zero for v in astuple(inv.totals)],
        "vat_breakdown": [(v.category, v.rate, v.taxable_amount, v.tax_amount) for v in inv.vat_breakdown],
        "line_count": len(inv.lines), "line_net": [line.net_amount for line in inv.lines],
        "line_qty": [(line.quantity, line.unit) for line in inv.lines],
        "item_names": [line.item.name for line in inv.lines],
        "allowances": [(a.amount, a.vat_category) for a in inv.allowances],
        "charges": [(c.amount, c.vat_category) for c in inv.charges],
        "payment_means": inv.payment.means_code if inv.payment else None,
        "ibans": [c.account_id for c in inv.payment.credit_transfers] if inv.payment else [],
        "period": inv.invoicing_period, "preceding": inv.preceding_invoices,
        "attachments": [(a.filename, a.mime_code, a.size) for a in inv.attachments],
    }


@pytest.mark.parametrize("ubl,cii", PAIRS, ids=[u.name.replace("_ubl.xml", "") for u, _ in PAIRS])
def test_ubl_and_cii_of_the_same_case_give_the_same_model(ubl, cii):
    a = _main_terms(parse_invoice(ubl.read_bytes(), "ubl"))
    b = _main_terms(parse_invoice(cii.read_bytes(), "cii"))
    skip = next((v for k, v in KNOWN_DATA_DIFFERENCES.items() if ubl.name.startswith(k)), set())
    diff = {k: (a[k], b[k]) for k in a if k not in skip and a[k] != b[k]}
    assert diff == {}


def test_pairs_cover_the_business_cases():
    assert len(PAIRS) >= 30


def test_values_ubl_standard_case():
    inv = parse_invoice((TESTSUITE / "business-cases/standard/01.01a-INVOICE_ubl.xml").read_bytes(), "ubl")
    assert (inv.syntax, inv.document_type, inv.number, inv.type_code) == ("ubl", "Invoice", "123456XX", "380")
    assert inv.issue_date == date(2016, 4, 4)
    assert inv.specification_id == "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    assert inv.process_id == "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    assert inv.leitweg_id == "04011000-12345-03" and inv.leitweg_id_valid
    assert inv.notes[0].subject_code == "ADU" and inv.notes[0].text.startswith("Es gelten unsere")
    assert inv.seller.name == "[Seller name]" and inv.seller.trading_name == "[Seller trading name]"
    assert inv.seller.vat_id == "DE 123456789"
    assert inv.seller.address.city == "[Seller city]" and inv.seller.address.postcode == "12345"
    assert inv.seller.contact.phone == "+49 1234-5678" and inv.seller.contact.email == "seller@email.de"
    assert inv.buyer.name == "[Buyer name]" and inv.buyer.electronic_address.value == "buyer@info.de"
    assert inv.payment.means_code == "58"
    assert inv.payment.credit_transfers[0].account_id == "DE79000000001234567890"
    assert inv.payment_terms == "Zahlbar sofort ohne Abzug."
    t = inv.totals
    assert (t.line_net_total, t.tax_exclusive, t.vat_total, t.tax_inclusive, t.payable) == (
        Decimal("314.86"), Decimal("314.86"), Decimal("22.04"), Decimal("336.9"), Decimal("336.9"))
    [vat] = inv.vat_breakdown
    assert (vat.category, vat.rate, vat.taxable_amount, vat.tax_amount) == ("S", Decimal("7"), Decimal("314.86"),
                                                                            Decimal("22.04"))
    first = inv.lines[0]
    assert (first.id, first.quantity, first.unit, first.net_amount) == ("Zeitschrift [...]", Decimal("1"), "XPP",
                                                                        Decimal("288.79"))
    assert first.period.start == date(2016, 1, 1) and first.period.end == date(2016, 12, 31)
    assert first.item.description == "Zeitschrift Inland" and first.item.seller_id == "246"
    assert first.item.classifications[0].value == "0721-880X" and first.item.classifications[0].scheme == "IB"
    assert (first.vat_category, first.vat_rate, first.price.net) == ("S", Decimal("7"), Decimal("288.79"))


def test_values_comprehensive_ubl_with_attachments():
    inv = parse_invoice((TESTSUITE / "technical-cases/cius/01.01_comprehensive_test_ubl.xml").read_bytes(), "ubl")
    assert inv.number == "1234567" and inv.due_date == date(2018, 4, 13)
    assert inv.buyer_reference == "90000000-03083-72" and inv.leitweg_id_valid
    assert inv.contract_reference == "0000000752" and inv.buyer_accounting_reference == "Buchungscode1"
    assert inv.invoiced_object.value == "OK987654321"
    assert inv.seller.vat_id == "ATU123456789"
    assert [p.number for p in inv.preceding_invoices] == ["PIR1234567890", "PIR0987654321"]
    assert inv.delivery.name == "[Deliver to party name]" and inv.delivery.address.subdivision == "Bayern"
    assert [a.reason for a in inv.allowances] == ["Fixed long term", "Fixed long term 2"]
    assert inv.charges[0].reason_code == "TAC" and inv.charges[0].percentage == Decimal("10")
    assert [c.account_id for c in inv.payment.credit_transfers] == ["DE79000000001234567890", "DE16000000002345678901"]
    assert inv.totals.payable == Decimal("12829.69")
    assert [(v.category, v.rate) for v in inv.vat_breakdown] == [("S", Decimal("19")), ("E", Decimal("0"))]
    line = inv.lines[0]
    assert line.object_id.value == "ANG987654321" and line.accounting_ref == "Konto 1"
    assert [a.amount for a in line.allowances] == [Decimal("20"), Decimal("20")]
    assert (line.price.net, line.price.discount, line.price.gross) == (Decimal("158.125"), Decimal("10"),
                                                                       Decimal("168.125"))
    assert line.item.standard_id.scheme == "0088" and line.item.buyer_id == "5034"
    # BG-24: embedded PDFs decoded for the E-Akte
    files = inv.embedded_files()
    assert [a.filename for a in files] == ["01_15_Anhang_01.pdf", "01_15_Anhang_02.pdf"]
    assert all(a.content.startswith(b"%PDF") and a.mime_code == "application/pdf" for a in files)
    assert files[0].uri == "https://xeinkauf.de/xrechnung/"


def test_values_cen_credit_note():
    inv = parse_invoice((CORPORA / "en16931-cen/ubl/examples/ubl-tc434-creditnote1.xml").read_bytes(), "ubl")
    assert inv.document_type == "CreditNote" and inv.is_credit_note and inv.type_code == "381"
    assert inv.number == "018304 / 28865" and inv.issue_date == date(2019, 9, 23)
    assert inv.seller.name == "My Supplier Company" and inv.seller.vat_id == "BE0000000196"
    assert inv.buyer.name == "My Customer Company"
    assert not inv.leitweg_id_valid        # BT-10 is no Leitweg-ID here
    assert inv.totals.payable == Decimal("100.11")
    assert [(v.category, v.tax_amount) for v in inv.vat_breakdown] == [("E", Decimal("0.00"))]
    assert [line.net_amount for line in inv.lines] == [Decimal("100.11")]


def test_values_cii_standard_case():
    inv = parse_invoice((TESTSUITE / "business-cases/standard/01.01a-INVOICE_uncefact.xml").read_bytes(), "cii")
    assert (inv.syntax, inv.document_type, inv.number) == ("cii", "CrossIndustryInvoice", "123456XX")
    assert inv.issue_date == date(2016, 4, 4)
    assert inv.seller.vat_id == "DE 123456789" and inv.seller.legal_registration_id.value == "[HRA-Eintrag]"
    assert inv.seller.contact.name == "nicht vorhanden"
    assert inv.buyer.identifiers[0].value == "[Buyer identifier]"
    assert inv.lines[0].period.end == date(2016, 12, 31)
    assert inv.totals.vat_total == Decimal("22.04")


def test_leitweg_id_check_digit():
    data = (TESTSUITE / "business-cases/standard/01.01a-INVOICE_ubl.xml").read_bytes()
    bad = data.replace(b"04011000-12345-03", b"04011000-12345-04")
    inv = parse_invoice(bad, "ubl")
    assert inv.leitweg_id == "04011000-12345-04" and not inv.leitweg_id_valid


def test_attachment_size_limit_and_bad_base64():
    data = (TESTSUITE / "technical-cases/cius/01.01_comprehensive_test_ubl.xml").read_bytes()
    inv = parse_invoice(data, "ubl", max_attachment_bytes=1000)
    assert all(a.content is None and a.error == "zu groß" and a.size > 1000 for a in inv.attachments)
    broken = re.sub(rb'(<cbc:EmbeddedDocumentBinaryObject[^>]*>)[^<]*', rb"\1!!!notbase64", data, count=1)
    inv = parse_invoice(broken, "ubl")
    assert inv.attachments[0].content is None and inv.attachments[0].error == "kein gültiges Base64"


def test_hardened_parsing():
    with pytest.raises(InvoiceParseError):
        parse_invoice(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>', "ubl")
    with pytest.raises(InvoiceParseError):
        parse_invoice(b"<not-xml", "ubl")
    cii = (TESTSUITE / "business-cases/standard/01.01a-INVOICE_uncefact.xml").read_bytes()
    with pytest.raises(InvoiceParseError):
        parse_invoice(cii, "ubl")


# ---------------------------------------------------------------- German view (HTML, PDF)

def test_german_number_formatting():
    from rathaus.einvoice.render import de_date, de_number, money

    assert de_number(Decimal("12829.69")) == "12.829,69"
    assert de_number(Decimal("336.9")) == "336,90"
    assert de_number(Decimal("158.125")) == "158,125"
    assert de_number(Decimal("-1234567")) == "−1.234.567,00"
    assert money(Decimal("0"), "EUR") == "0,00 EUR"
    assert de_date(date(2018, 4, 13)) == "13.04.2018"


def test_html_view_in_german():
    from django.template.loader import render_to_string

    from rathaus.einvoice.render import invoice_html_context, render_invoice_html

    inv = parse_invoice((TESTSUITE / "technical-cases/cius/01.01_comprehensive_test_ubl.xml").read_bytes(), "ubl")
    html = render_invoice_html(inv)
    for text in ("Rechnungsempfänger", "Rechnungssteller", "Rechnungsdaten", "Positionen", "Nachlässe und Zuschläge",
                 "Umsatzsteuer", "Summen", "Zahlungsdaten", "Anlagen", "BT-115", "12.829,69 EUR", "1234567",
                 "90000000-03083-72 (Prüfziffer korrekt)", "13.04.2018", "01_15_Anhang_01.pdf", "158,125",
                 "[Seller name]", "DE79000000001234567890", "SEPA-Überweisung"):
        assert text in html, text
    fragment = render_to_string("einvoice/_invoice.html", {"inv": invoice_html_context(inv)})
    assert "<html" not in fragment and "Fälliger Betrag" in fragment


def test_html_view_escapes_content():
    from rathaus.einvoice.render import render_invoice_html

    data = (TESTSUITE / "business-cases/standard/01.01a-INVOICE_ubl.xml").read_bytes()
    evil = data.replace(b"[Seller name]", b"&lt;script&gt;alert(1)&lt;/script&gt;")
    html = render_invoice_html(parse_invoice(evil, "ubl"))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_pdf_for_the_file():
    import io

    import pypdf

    from rathaus.einvoice.render import render_invoice_pdf

    inv = parse_invoice((TESTSUITE / "technical-cases/cius/01.01_comprehensive_test_ubl.xml").read_bytes(), "ubl")
    pdf = render_invoice_pdf(inv)
    assert pdf.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Rechnung 1234567" in text
    assert "[Seller name]" in text
    assert "12.829,69 EUR" in text
    assert "Fälliger Betrag" in text


def test_file_invoice_into_the_e_akte(seeded):
    from rathaus.einvoice.akte import file_invoice
    from rathaus.tenants.models import Tenant

    tenant = Tenant.objects.get(slug="musterstadt")
    xml = (TESTSUITE / "technical-cases/cius/01.01_comprehensive_test_ubl.xml").read_bytes()
    inv = parse_invoice(xml, "ubl")
    docs = file_invoice(tenant=tenant, case=None, invoice=inv, xml=xml, actor="test")
    assert [d.kind for d in docs] == ["invoice", "invoice", "attachment", "attachment"]
    assert docs[0].content_type == "application/xml" and docs[0].size == len(xml)
    assert docs[1].content_type == "application/pdf" and docs[1].file.read().startswith(b"%PDF")
    assert [d.filename for d in docs[2:]] == ["01_15_Anhang_01.pdf", "01_15_Anhang_02.pdf"]
    assert all(d.content_type == "application/pdf" and len(d.sha256) == 64 for d in docs[2:])
    assert docs[0].meta["einvoice"]["leitweg_id"] == "90000000-03083-72"
