"""A readable German view of an e-invoice, modelled on KoSIT's XRechnung visualisation: as context
for the Django template `einvoice/invoice_view.html` and as PDF (Typst, PDF/A-2b) for the E-Akte.

The labels stay German here (the PDF for the E-Akte is German); they are marked with `gettext_noop`, so
the web page translates them for an English UI (`{% translate f.label %}`, docs/i18n.md).

Every field carries its EN 16931 business term (BT-/BG-) so clerks can match the view with the
standard. Amounts are formatted German style (1.234,56), dates as TT.MM.JJJJ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext_noop as _noop

from rathaus.notices.typst_render import compiler_for

from .model import Address, AllowanceCharge, Contact, Invoice, Party

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

TYPE_CODES = {
    "326": "Teilrechnung", "380": "Handelsrechnung", "381": "Gutschrift (Rechnungskorrektur)", "383": "Belastungsanzeige",
    "384": "Korrekturrechnung", "386": "Vorauszahlungsrechnung", "389": "Selbst ausgestellte Rechnung (Gutschrift)",
    "261": "Selbst ausgestellte Gutschrift", "396": "Factoring-Gutschrift", "875": "Teilrechnung für Bauleistungen",
    "876": "Teilschlussrechnung für Bauleistungen", "877": "Schlussrechnung für Bauleistungen",
}
PAYMENT_MEANS = {
    "1": "Nicht definiert", "10": "Barzahlung", "20": "Scheck", "30": "Überweisung (nicht SEPA)",
    "31": "Zahlung", "42": "Zahlung auf Bankkonto", "48": "Kartenzahlung", "49": "Lastschrift",
    "54": "Kreditkarte", "55": "Debitkarte", "57": "Dauerauftrag", "58": "SEPA-Überweisung",
    "59": "SEPA-Lastschrift", "97": "Verrechnung", "ZZZ": "Gegenseitig vereinbart",
}
VAT_CATEGORIES = {
    "S": _noop("Umsatzsteuer (Normalsatz)"), "Z": _noop("Nullsatz"), "E": _noop("Steuerbefreit"),
    "AE": _noop("Umkehrung der Steuerschuldnerschaft"), "K": _noop("Innergemeinschaftliche Lieferung"),
    "G": _noop("Ausfuhr (außerhalb der EU)"), "O": _noop("Nicht steuerbar"),
    "L": _noop("IGIC (Kanarische Inseln)"), "M": _noop("IPSI (Ceuta und Melilla)"),
}


# ---------------------------------------------------------------- formatting

def de_number(value: Decimal | None, min_places: int = 2) -> str:
    """1234.5 -> "1.234,50"; more decimals are kept (158.125 -> "158,125")."""
    if value is None:
        return ""
    d = Decimal(value)
    exponent = d.as_tuple().exponent
    places = max(min_places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    text = f"{abs(d):.{places}f}"
    whole, _, frac = text.partition(".")
    if places > min_places:
        frac = frac.rstrip("0").ljust(min_places, "0")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    sign = "−" if d < 0 else ""
    return sign + ".".join(groups) + ("," + frac if frac else "")


def de_quantity(value: Decimal | None) -> str:
    return de_number(value, 0) if value is not None else ""


def de_percent(value: Decimal | None) -> str:
    return f"{de_number(value, 0)} %" if value is not None else ""


def de_date(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def money(value: Decimal | None, currency: str | None) -> str:
    if value is None:
        return ""
    return f"{de_number(value)} {currency or ''}".strip()


@dataclass
class Field:
    label: str
    bt: str
    value: str

    def as_dict(self) -> dict:
        return {"label": self.label, "bt": self.bt, "value": self.value}


def _fields(*items: tuple[str, str, object]) -> list[Field]:
    out = []
    for label, bt, value in items:
        if value is None or value == "" or value == []:
            continue
        out.append(Field(label, bt, str(value)))
    return out


def _address_fields(a: Address | None, bts: tuple[str, ...]) -> list[tuple[str, str, object]]:
    if a is None:
        return []
    return [(_noop("Straße / Hausnummer"), bts[0], a.line1), (_noop("Adresszusatz"), bts[1], a.line2),
            (_noop("Adresszeile 3"), bts[2], a.line3),
            (_noop("PLZ"), bts[3], a.postcode), (_noop("Ort"), bts[4], a.city),
            (_noop("Bundesland / Region"), bts[5], a.subdivision),
            (_noop("Land"), bts[6], a.country)]


def _contact_fields(c: Contact | None, bts: tuple[str, str, str]) -> list[tuple[str, str, object]]:
    if c is None:
        return []
    return [(_noop("Kontakt"), bts[0], c.name), (_noop("Telefon"), bts[1], c.phone),
            (_noop("E-Mail"), bts[2], c.email)]


def _ids(ids) -> str:
    return "; ".join(f"{i.value} ({i.scheme})" if i.scheme else i.value for i in ids)


def _id(i) -> str | None:
    return _ids([i]) if i else None


def _seller(p: Party) -> list[Field]:
    return _fields(
        (_noop("Name"), "BT-27", p.name), (_noop("Handelsname"), "BT-28", p.trading_name),
        (_noop("Kennung"), "BT-29", _ids(p.identifiers)),
        (_noop("Registernummer"), "BT-30", _id(p.legal_registration_id)),
        (_noop("Umsatzsteuer-ID"), "BT-31", p.vat_id),
        (_noop("Steuernummer"), "BT-32", p.tax_registration_id),
        (_noop("Weitere rechtliche Informationen"), "BT-33", p.legal_info),
        (_noop("Elektronische Adresse"), "BT-34", _id(p.electronic_address)),
        *_address_fields(p.address, ("BT-35", "BT-36", "BT-162", "BT-38", "BT-37", "BT-39", "BT-40")),
        *_contact_fields(p.contact, ("BT-41", "BT-42", "BT-43")))


def _buyer(inv: Invoice) -> list[Field]:
    p = inv.buyer
    leitweg = inv.buyer_reference
    if leitweg:
        leitweg += " (Prüfziffer korrekt)" if inv.leitweg_id_valid else " (keine gültige Leitweg-ID)"
    return _fields(
        (_noop("Käuferreferenz / Leitweg-ID"), "BT-10", leitweg),
        (_noop("Name"), "BT-44", p.name), (_noop("Handelsname"), "BT-45", p.trading_name),
        (_noop("Kennung"), "BT-46", _ids(p.identifiers)),
        (_noop("Registernummer"), "BT-47", _id(p.legal_registration_id)),
        (_noop("Umsatzsteuer-ID"), "BT-48", p.vat_id),
        (_noop("Elektronische Adresse"), "BT-49", _id(p.electronic_address)),
        *_address_fields(p.address, ("BT-50", "BT-51", "BT-163", "BT-53", "BT-52", "BT-54", "BT-55")),
        *_contact_fields(p.contact, ("BT-56", "BT-57", "BT-58")))


def _ac(ac: AllowanceCharge, currency: str | None, level: str) -> dict:
    return {"kind": _noop("Zuschlag") if ac.charge else _noop("Nachlass"), "level": level,
            "bg": ("BG-21" if ac.charge else "BG-20") if level == "Dokument" else ("BG-28" if ac.charge else "BG-27"),
            "reason": " / ".join(x for x in (ac.reason, ac.reason_code) if x),
            "base": money(ac.base_amount, currency), "percent": de_percent(ac.percentage),
            "amount": money(ac.amount, currency),
            "vat": f"{ac.vat_category or ''} {de_percent(ac.vat_rate)}".strip()}


def invoice_html_context(inv: Invoice) -> dict:
    """Everything the German view needs, as plain strings (also serialised for the PDF)."""
    cur = inv.currency
    type_label = TYPE_CODES.get(inv.type_code or "", "")
    period = inv.invoicing_period
    details = _fields(
        (_noop("Rechnungsnummer"), "BT-1", inv.number),
        (_noop("Rechnungsdatum"), "BT-2", de_date(inv.issue_date)),
        (_noop("Rechnungsart"), "BT-3", f"{inv.type_code} {type_label}".strip() if inv.type_code else None),
        (_noop("Währung"), "BT-5", cur), (_noop("Umsatzsteuer-Buchungswährung"), "BT-6", inv.vat_currency),
        (_noop("Steuerdatum"), "BT-7", de_date(inv.tax_point_date)),
        (_noop("Fälligkeitsdatum"), "BT-9", de_date(inv.due_date)),
        (_noop("Projektnummer"), "BT-11", inv.project_reference),
        (_noop("Vertragsnummer"), "BT-12", inv.contract_reference),
        (_noop("Bestellnummer"), "BT-13", inv.purchase_order_reference),
        (_noop("Auftragsnummer"), "BT-14", inv.sales_order_reference),
        (_noop("Wareneingangsmeldung"), "BT-15", inv.receiving_advice_reference),
        (_noop("Versandanzeige"), "BT-16", inv.despatch_advice_reference),
        (_noop("Vergabenummer"), "BT-17", inv.tender_reference),
        (_noop("Objektkennung"), "BT-18", _id(inv.invoiced_object)),
        (_noop("Buchungsreferenz"), "BT-19", inv.buyer_accounting_reference),
        (_noop("Leistungszeitraum"), "BG-14", f"{de_date(period.start)} – {de_date(period.end)}"
         if period and (period.start or period.end) else None),
        (_noop("Vorausgegangene Rechnungen"), "BG-3", "; ".join(
            f"{p.number}" + (f" vom {de_date(p.issue_date)}" if p.issue_date else "") for p in inv.preceding_invoices)),
        (_noop("Prozesskennung"), "BT-23", inv.process_id),
        (_noop("Spezifikationskennung"), "BT-24", inv.specification_id),
    )
    delivery = []
    if inv.delivery:
        d = inv.delivery
        delivery = _fields((_noop("Name des Empfängers"), "BT-70", d.name),
                           (_noop("Kennung des Lieferorts"), "BT-71", _id(d.location_id)),
                           (_noop("Lieferdatum"), "BT-72", de_date(d.date)),
                           *_address_fields(d.address, ("BT-75", "BT-76", "BT-165", "BT-78", "BT-77", "BT-79", "BT-80")))
    payee = _fields((_noop("Name"), "BT-59", inv.payee.name),
                    (_noop("Kennung"), "BT-60", _ids(inv.payee.identifiers)),
                    (_noop("Registernummer"), "BT-61", _id(inv.payee.legal_registration_id)),
                    ) if inv.payee else []
    tax_rep = _fields((_noop("Name"), "BT-62", inv.tax_representative.name),
                      (_noop("Umsatzsteuer-ID"), "BT-63", inv.tax_representative.vat_id),
                      *_address_fields(inv.tax_representative.address,
                                       ("BT-64", "BT-65", "BT-164", "BT-67", "BT-66", "BT-68", "BT-69"))
                      ) if inv.tax_representative else []
    payment: list[Field] = []
    if inv.payment:
        pm = inv.payment
        items: list[tuple[str, str, object]] = [
            (_noop("Zahlungsart"), "BT-81",
             f"{pm.means_code} {PAYMENT_MEANS.get(pm.means_code or '', '')}".strip() if pm.means_code else None),
            (_noop("Text zur Zahlungsart"), "BT-82", pm.means_text),
            (_noop("Verwendungszweck"), "BT-83", pm.remittance_information)]
        for ct in pm.credit_transfers:
            items += [(_noop("IBAN / Kontonummer"), "BT-84", ct.account_id),
                      (_noop("Kontoinhaber"), "BT-85", ct.account_name),
                      (_noop("BIC"), "BT-86", ct.bic)]
        if pm.card:
            items += [(_noop("Kartennummer"), "BT-87", pm.card.pan),
                      (_noop("Karteninhaber"), "BT-88", pm.card.holder)]
        if pm.direct_debit:
            dd = pm.direct_debit
            items += [(_noop("Mandatsreferenz"), "BT-89", dd.mandate_id),
                      (_noop("Gläubiger-ID"), "BT-90", dd.creditor_id),
                      (_noop("Belastetes Konto"), "BT-91", dd.debited_account)]
        payment = _fields(*items)
    payment += _fields((_noop("Zahlungsbedingungen"), "BT-20", inv.payment_terms))
    t = inv.totals
    totals = _fields(
        (_noop("Summe der Positionen (netto)"), "BT-106", money(t.line_net_total, cur)),
        (_noop("Summe der Nachlässe"), "BT-107", money(t.allowance_total, cur)),
        (_noop("Summe der Zuschläge"), "BT-108", money(t.charge_total, cur)),
        (_noop("Gesamtbetrag ohne Umsatzsteuer"), "BT-109", money(t.tax_exclusive, cur)),
        (_noop("Umsatzsteuer gesamt"), "BT-110", money(t.vat_total, cur)),
        (_noop("Umsatzsteuer in Buchungswährung"), "BT-111", money(t.vat_total_accounting, inv.vat_currency)),
        (_noop("Gesamtbetrag mit Umsatzsteuer"), "BT-112", money(t.tax_inclusive, cur)),
        (_noop("Bereits gezahlt"), "BT-113", money(t.prepaid, cur)),
        (_noop("Rundungsbetrag"), "BT-114", money(t.rounding, cur)),
    )
    lines = []
    for ln in inv.lines:
        extra = _fields(
            (_noop("Bemerkung"), "BT-127", ln.note), (_noop("Objektkennung"), "BT-128", _id(ln.object_id)),
            (_noop("Bestellposition"), "BT-132", ln.order_line_ref),
            (_noop("Buchungsreferenz"), "BT-133", ln.accounting_ref),
            (_noop("Leistungszeitraum"), "BG-26", f"{de_date(ln.period.start)} – {de_date(ln.period.end)}"
             if ln.period and (ln.period.start or ln.period.end) else None),
            (_noop("Artikelnummer Verkäufer"), "BT-155", ln.item.seller_id),
            (_noop("Artikelnummer Käufer"), "BT-156", ln.item.buyer_id),
            (_noop("Artikelkennung"), "BT-157", _id(ln.item.standard_id)),
            (_noop("Klassifizierung"), "BT-158", _ids(ln.item.classifications)),
            (_noop("Ursprungsland"), "BT-159", ln.item.origin_country),
            (_noop("Bruttopreis"), "BT-148", money(ln.price.gross, cur)),
            (_noop("Rabatt auf den Preis"), "BT-147", money(ln.price.discount, cur)),
            (_noop("Preisbasismenge"), "BT-149",
             f"{de_quantity(ln.price.base_quantity)} {ln.price.base_unit or ''}".strip()
             if ln.price.base_quantity is not None else None),
            *[(a.name or _noop("Eigenschaft"), "BT-160/161", a.value) for a in ln.item.attributes],
        )
        lines.append({
            "id": ln.id or "", "name": ln.item.name or "", "description": ln.item.description or "",
            "quantity": de_quantity(ln.quantity), "unit": ln.unit or "", "price": de_number(ln.price.net),
            "vat": f"{ln.vat_category or ''} {de_percent(ln.vat_rate)}".strip(), "net": de_number(ln.net_amount),
            "fields": [f.as_dict() for f in extra],
            "allowances_charges": [_ac(a, cur, "Position") for a in ln.allowances + ln.charges],
        })
    return {
        "title": f"{'Gutschrift' if inv.is_credit_note else 'Rechnung'} {inv.number or ''}".strip(),
        "credit_note": inv.is_credit_note, "number": inv.number or "",
        "syntax": {"ubl": "UBL", "cii": "UN/CEFACT CII"}.get(inv.syntax, inv.syntax),
        "currency": cur or "",
        "buyer": [f.as_dict() for f in _buyer(inv)],
        "seller": [f.as_dict() for f in _seller(inv.seller)],
        "details": [f.as_dict() for f in details],
        "notes": [{"subject": n.subject_code or "", "text": n.text} for n in inv.notes],
        "delivery": [f.as_dict() for f in delivery],
        "payee": [f.as_dict() for f in payee],
        "tax_representative": [f.as_dict() for f in tax_rep],
        "lines": lines,
        "allowances_charges": [_ac(a, cur, "Dokument") for a in inv.allowances + inv.charges],
        "vat": [{"category": v.category or "", "category_label": VAT_CATEGORIES.get(v.category or "", ""),
                 "rate": de_percent(v.rate), "taxable": money(v.taxable_amount, cur), "tax": money(v.tax_amount, cur),
                 "exemption": " / ".join(x for x in (v.exemption_reason, v.exemption_reason_code) if x)}
                for v in inv.vat_breakdown],
        "totals": [f.as_dict() for f in totals],
        "payable": {"label": _noop("Fälliger Betrag"), "bt": "BT-115", "value": money(t.payable, cur)},
        "payment": [f.as_dict() for f in payment],
        "attachments": [{"id": a.id or "", "description": a.description or "", "filename": a.filename or "",
                         "mime": a.mime_code or "", "uri": a.uri or "",
                         "size": f"{de_number(Decimal(a.size) / 1024, 0)} KB" if a.size else "",
                         "embedded": a.content is not None, "error": a.error or ""}
                        for a in inv.attachments],
    }


def render_invoice_html(inv: Invoice) -> str:
    """The view as a German page (whatever the language of the request that asks for it)."""
    from django.conf import settings
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string("einvoice/invoice_view.html", {"inv": invoice_html_context(inv)})


def _compiler():
    path = TEMPLATE_DIR / "invoice.typ"
    return compiler_for(("einvoice-invoice", str(path), path.stat().st_mtime_ns), path.read_text(encoding="utf-8"))


def warm_up() -> None:
    """Create this process's Typst compiler for the invoice view now (fonts, template)."""
    _compiler()


def render_invoice_pdf(inv: Invoice) -> bytes:
    """The German view as PDF/A-2b (Typst), for the E-Akte.

    One Typst compiler per process and template version, fonts loaded once (the bundled fonts only, as
    for notices, `notices.typst_render`): a fresh `typst.compile` loaded the fonts and parsed the template
    on every call, which cost more than the rest of receiving an invoice (docs/benchmarks.md)."""
    comp, lock = _compiler()[:2]  # (compiler, lock, folder)
    data = json.dumps(invoice_html_context(inv), ensure_ascii=False)
    with lock:
        return comp.compile(format="pdf", sys_inputs={"data": data}, pdf_standards=["a-2b"])
