"""Inbound e-invoice operations: receive (store first), validate, route by Leitweg-ID, detect
duplicates, start the approval case; the Anordnung books the payable (with budget check); a
rejection produces a German message for the supplier listing the failed rules.

Receiving is two-phase on purpose: the file is stored in the E-Akte and its `EInvoice` row committed
*before* anything else runs, so an invoice is never lost, even when it is invalid, hostile, or the
process crashes afterwards (the row then stays `received` and can be processed again with
`process_invoice`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from rathaus.cases.services import submit_application
from rathaus.core.bulk import insert_new
from rathaus.core.errors import DomainError, Invalid, NotFound, PayloadTooLarge
from rathaus.core.templatetags.rathaus_format import eur
from rathaus.documents.models import Document
from rathaus.documents.services import sniff_content_type, store_document
from rathaus.events.services import record_change
from rathaus.finance.payables import ExpenseLine, apply_input_vat, create_payable
from rathaus.finance.vat import VatItem
from rathaus.ledger.budget import check_budget
from rathaus.ledger.services import input_vat_deduction
from rathaus.tenants.models import OrgUnit
from rathaus.tenants.services import readable_units

from .models import EInvoice, InvoiceStatus, LeitwegRoute

log = logging.getLogger("rathaus.einvoice")
APPROVAL_SERVICE = "eingangsrechnung"
OPEN_STATES = (InvoiceStatus.IN_REVIEW, InvoiceStatus.APPROVED, InvoiceStatus.REJECTED, InvoiceStatus.PAID)


def max_bytes() -> int:
    return int(getattr(settings, "RATHAUS_MAX_EINVOICE_BYTES", 20 * 1024 * 1024))


# --------------------------------------------------------------------------- receive

def receive_invoice(tenant, content: bytes, *, actor: str, channel: str = "api", filename: str = "rechnung.xml",
                    now: dt.datetime | None = None) -> EInvoice:
    """Store the file unchanged, then validate and process it. Returns the EInvoice in its new state.

    Hostile or non-XML content is stored and logged too, then answered with the XML error (4xx)."""
    now = now or timezone.now()
    sha = hashlib.sha256(content).hexdigest()
    if len(content) > max_bytes():
        with transaction.atomic():
            record_change(tenant=tenant, actor=actor, action="einvoice.refused", object_type="einvoice",
                          object_id=sha[:16], data={"sha256": sha, "size": len(content), "reason": "too large"},
                          event_type=None)
        raise PayloadTooLarge(f"Die Rechnung ist zu groß (höchstens {max_bytes() // (1024 * 1024)} MB).")
    with transaction.atomic():
        doc = _store_received(tenant, content, sha, filename=filename or "rechnung.xml", actor=actor)
        inv = EInvoice(tenant=tenant, document=doc, sha256=sha, size=len(content), filename=doc.filename,
                       channel=channel, received_at=now, received_by=actor)
        insert_new([inv])
        record_change(tenant=tenant, actor=actor, action="einvoice.received", object_type="einvoice",
                      object_id=inv.pk, data={"sha256": sha, "size": len(content), "channel": channel},
                      event_type="einvoice.received", event_payload={"id": inv.pk, "sha256": sha})
    return process_invoice(inv, content, actor=actor)


def _store_received(tenant, content: bytes, sha: str, *, filename: str, actor: str):
    """The received file, unchanged, in the E-Akte (write-once) and its `Document` row."""
    return store_document(tenant=tenant, case=None, kind=Document.Kind.INVOICE, title="E-Rechnung (Eingang)",
                          filename=filename, content_type="application/xml", content=content, actor=actor,
                          sha256=sha)


def process_invoice(inv: EInvoice, content: bytes | None = None, *, actor: str) -> EInvoice:
    """Validate, parse, route, check for duplicates and start the approval case."""
    from . import xmlsafe
    from .validation import validate_invoice

    if content is None:
        with inv.document.file.open("rb") as fh:
            content = fh.read()
    try:
        # parsed once (hardened), then shared by validation, the native BR-DE rules and the model parser
        doc = xmlsafe.parse(content)
        report = validate_invoice(content, parsed=doc)
    except DomainError as e:
        _set_status(inv, InvoiceStatus.REFUSED, note=e.detail, actor=actor)
        raise
    inv.syntax = report.syntax or ""
    inv.document_type = report.document_type or ""
    inv.customization_id = (getattr(report, "customization_id", "") or "")[:200]
    inv.valid = bool(report.valid)
    inv.errors = [_finding(f) for f in report.errors]
    inv.warnings = [_finding(f) for f in report.warnings]
    model = None
    try:
        from .parse import parse_invoice

        model = parse_invoice(doc.root, report.syntax)
        _take_key_data(inv, model)
    except Exception as e:  # noqa: BLE001 - an invalid invoice may not parse completely; keep what we have
        log.warning("invoice %s: key data not parsed: %s", inv.pk, e)
    if not inv.valid:
        inv.rejection_message = rejection_message(inv)
        _set_status(inv, InvoiceStatus.INVALID, note=f"{len(inv.errors)} Fehler", actor=actor)
        return inv
    found = _lookups(inv)  # route, open original, booking proposal: one statement
    if found is None:
        inv.rejection_message = rejection_message(inv, extra=[
            f"Die Leitweg-ID (BT-10) „{inv.leitweg_id or '(fehlt)'}“ gehört nicht zu {inv.tenant.name}."])
        _set_status(inv, InvoiceStatus.MISROUTED, note="Leitweg-ID unbekannt", actor=actor)
        return inv
    inv.org_unit = found.org_unit
    original = found.original
    if original is not None:
        inv.duplicate_of_id = original
        _set_status(inv, InvoiceStatus.DUPLICATE, actor=actor,
                    note=f"Dublette von Eingang {original} (gleicher Rechnungssteller und Rechnungsnummer)")
        return inv
    # The PDF view (Typst, a large share of the receive path) is not rendered here: `ensure_pdf_view`
    # renders it once, at the Anordnung or when somebody first asks for it.
    try:
        with transaction.atomic():
            case = _start_approval(inv, model, actor=actor, proposal=found.booking)
            inv.case = case
            _set_status(inv, InvoiceStatus.IN_REVIEW, note=f"Vorgang {case.reference}", actor=actor)
    except IntegrityError:  # a parallel upload of the same invoice won the race: this one is the duplicate
        # The rolled-back step wrote nothing; the in-memory row keeps what validation and parsing found (number,
        # seller, totals, findings), which the duplicate must show too (refreshing it from the database lost
        # them and the link to the original). Only the case of the rolled-back step is dropped.
        inv.case = None
        inv.duplicate_of = EInvoice.objects.filter(
            tenant=inv.tenant, seller_key=inv.seller_key, invoice_number=inv.invoice_number,
            duplicate_of__isnull=True, status__in=OPEN_STATES).exclude(pk=inv.pk).first()
        _set_status(inv, InvoiceStatus.DUPLICATE, note="Dublette (gleichzeitig eingegangen)", actor=actor)
    return inv


def _finding(f) -> dict:
    get = (lambda k: f.get(k, "")) if isinstance(f, dict) else (lambda k: getattr(f, k, ""))
    return {"rule": get("rule"), "message": get("message"), "location": get("location"),
            "level": get("level"), "flag": get("flag")}


def _set_status(inv: EInvoice, status: str, *, note: str = "", actor: str) -> None:
    inv.status = status
    inv.status_note = note
    # no savepoint of its own inside an outer transaction: an error there rolls the outer one back anyway
    with transaction.atomic(savepoint=False):
        _save(inv)
        record_change(tenant=inv.tenant, actor=actor, action=f"einvoice.{status}", object_type="einvoice",
                      object_id=inv.pk, data={"status": status, "note": note[:500], "number": inv.invoice_number},
                      event_type=f"einvoice.{status}",
                      event_payload={"id": inv.pk, "status": status, "number": inv.invoice_number,
                                     "seller": inv.seller_name})


_SAVE_SQL: dict[str, tuple[str, list]] = {}


def _save(inv: EInvoice) -> None:
    """`inv.save()` of an existing row (every column, as the ORM writes them), without the ORM's per-call
    query compilation: one prepared UPDATE."""
    plan = _SAVE_SQL.get(connection.vendor)
    if plan is None:
        qn = connection.ops.quote_name
        fields = [f for f in EInvoice._meta.concrete_fields if not f.primary_key]
        sql = (f"UPDATE {qn(EInvoice._meta.db_table)} SET " + ", ".join(f"{qn(f.column)} = %s" for f in fields)
               + f" WHERE {qn(EInvoice._meta.pk.column)} = %s")
        plan = _SAVE_SQL[connection.vendor] = (sql, fields)
    sql, fields = plan
    params = [f.get_db_prep_save(f.pre_save(inv, False), connection) for f in fields]
    with connection.cursor() as cur:
        cur.execute(sql, [*params, inv.pk])
        updated = cur.rowcount
    if not updated:  # as the ORM does when the row is gone
        inv.save()


def seller_key(name: str, vat_id: str) -> str:
    if vat_id:
        return re.sub(r"\s+", "", vat_id).upper()[:200]
    return re.sub(r"[^0-9a-zäöüß]+", "", (name or "").lower())[:200]


def _dec(v) -> Decimal | None:
    if v is None or v == "":
        return None
    try:
        return Decimal(str(v)).quantize(Decimal("0.01"))
    except Exception:  # noqa: BLE001
        return None


def _take_key_data(inv: EInvoice, m) -> None:
    """Copy the EN 16931 key terms from the neutral model (einvoice.model.Invoice) onto the row."""
    inv.invoice_number = (m.number or "")[:200]
    inv.issue_date = m.issue_date
    inv.due_date = m.due_date
    inv.currency = (m.currency or "")[:3]
    inv.seller_name = (m.seller.name or m.seller.trading_name or "")[:200]
    inv.seller_vat_id = (m.seller.vat_id or "")[:40]
    inv.seller_key = seller_key(inv.seller_name, inv.seller_vat_id)
    inv.leitweg_id = (m.buyer_reference or "").strip()[:46]
    t = m.totals
    inv.total_net = _dec(t.tax_exclusive)
    inv.total_tax = _dec(t.vat_total)
    inv.total_gross = _dec(t.tax_inclusive)
    inv.payable_amount = _dec(t.payable)
    transfers = (m.payment.credit_transfers if m.payment else []) or []
    inv.payment_iban = ((transfers[0].account_id or "") if transfers else "").replace(" ", "")[:34]
    inv.payment_terms = (m.payment_terms or "")[:2000]


def route_for(tenant, leitweg_id: str) -> LeitwegRoute | None:
    """The route of a Leitweg-ID: exact match, else the tenant's own Grobadressierung (first 2-12 digits)."""
    lid = (leitweg_id or "").strip().upper()
    if not lid:
        return None
    route = LeitwegRoute.objects.filter(tenant=tenant, leitweg_id__iexact=lid).select_related("org_unit").first()
    return route


@dataclass
class _Found:
    org_unit: object             # tenants.OrgUnit of the route
    original: int | None         # id of the open original with the same seller and number (duplicate check)
    booking: dict                # booking proposal (`booking_proposal`)


_LOOKUP_SQL: dict[str, str] = {}


def _booking_sql(line_alias: str = "b") -> str:
    # the seller's last invoice with a payable (index einvoice_seller_booked), the first line of its payable
    return (f"(SELECT l.product AS product, l.account AS account, l.cash_account AS cash_account, "
            f"l.cost_centre AS cost_centre FROM {_t('finance.PayableLine')} l WHERE l.payable_id = ("
            f"SELECT e.payable_id FROM {_t('einvoice.EInvoice')} e WHERE e.tenant_id = %s AND e.seller_key = %s "
            f"AND e.payable_id IS NOT NULL AND e.id <> %s ORDER BY e.received_at DESC LIMIT 1) "
            f"ORDER BY l.position LIMIT 1) {line_alias}")


def _t(label: str) -> str:
    from django.apps import apps

    return apps.get_model(label)._meta.db_table


def _org_unit_fields() -> list[str]:
    return [f.attname for f in OrgUnit._meta.concrete_fields]


def _lookup_sql() -> str:
    sql = _LOOKUP_SQL.get(connection.vendor)
    if sql is None:
        open_states = ", ".join(f"'{s}'" for s in OPEN_STATES)
        unit_cols = ", ".join(f"o.{c}" for c in _org_unit_fields())
        sql = _LOOKUP_SQL[connection.vendor] = (
            f"SELECT {unit_cols}, "
            # duplicate check: an open original of the same seller and invoice number (never for an empty one)
            f"(SELECT e.id FROM {_t('einvoice.EInvoice')} e WHERE e.tenant_id = r.tenant_id AND e.seller_key = %s "
            f"AND e.invoice_number = %s AND e.invoice_number <> '' AND e.duplicate_of_id IS NULL "
            f"AND e.status IN ({open_states}) AND e.id <> %s ORDER BY e.received_at DESC, e.id DESC LIMIT 1), "
            # the org unit's cost centre, for the default booking
            f"(SELECT c.code FROM {_t('ledger.CostCentre')} c WHERE c.tenant_id = r.tenant_id "
            f"AND c.org_unit_id = r.org_unit_id ORDER BY c.code LIMIT 1), "
            f"b.product, b.account, b.cash_account, b.cost_centre "
            f"FROM {_t('einvoice.LeitwegRoute')} r JOIN {_t('tenants.OrgUnit')} o ON o.id = r.org_unit_id "
            f"LEFT JOIN {_booking_sql()} ON 1 = 1 "
            f"WHERE r.tenant_id = %s AND UPPER(r.leitweg_id) = UPPER(%s) ORDER BY r.id LIMIT 1")
    return sql


def _lookups(inv: EInvoice) -> _Found | None:
    """In one statement (instead of four ORM queries): the route of the invoice's Leitweg-ID (as `route_for`),
    the open original of a duplicate (same seller and invoice number) and the booking proposal (as
    `booking_proposal`). None if the Leitweg-ID has no route for this tenant."""
    lid = (inv.leitweg_id or "").strip().upper()
    if not lid:
        return None
    with connection.cursor() as cur:
        cur.execute(_lookup_sql(), [inv.seller_key, inv.invoice_number, inv.pk or 0,
                                    inv.tenant_id, inv.seller_key, inv.pk or 0, inv.tenant_id, lid])
        row = cur.fetchone()
    if row is None:
        return None
    names = _org_unit_fields()
    n = len(names)
    unit = OrgUnit.from_db(connection.alias, names, row[:n])
    original, cost_centre, *line = row[n:]
    return _Found(org_unit=unit, original=original, booking=_proposal(line, cost_centre))


def _proposal(line, cost_centre: str | None) -> dict:
    product, account, cash_account, line_cc = line
    if account is not None:  # a line of the seller's last booked invoice
        return {"produkt": product, "konto": account, "finanzkonto": cash_account,
                **({"kostenstelle": line_cc} if line_cc else {})}
    defaults = getattr(settings, "RATHAUS_EINVOICE_DEFAULT_BOOKING", None) or {
        "produkt": "02.2.01", "konto": "5431000", "finanzkonto": "7431000"}
    return {**defaults, **({"kostenstelle": cost_centre} if cost_centre else {})}


def rejection_message(inv: EInvoice, extra: list[str] | None = None) -> str:
    """The German message to the supplier (Zurückweisung) listing the failed rules."""
    lines = [
        f"Zurückweisung Ihrer elektronischen Rechnung {inv.invoice_number or '(ohne Rechnungsnummer)'}",
        "",
        "Sehr geehrte Damen und Herren,",
        "",
        f"Ihre am {timezone.localtime(inv.received_at):%d.%m.%Y um %H:%M} Uhr bei {inv.tenant.name} eingegangene "
        f"Rechnung (Datei {inv.filename}, SHA-256 {inv.sha256[:16]}…) kann nicht bearbeitet werden.",
    ]
    if inv.errors:
        lines += ["", "Die Rechnung entspricht nicht dem Standard XRechnung / EN 16931. Festgestellte Fehler:", ""]
        for e in inv.errors[:100]:
            loc = f" (Stelle: {e['location']})" if e.get("location") else ""
            lines.append(f"- [{e.get('rule') or 'Fehler'}] {e.get('message')}{loc}")
        if len(inv.errors) > 100:
            lines.append(f"- … und {len(inv.errors) - 100} weitere")
    for x in extra or []:
        lines += ["", x]
    lines += ["", "Bitte senden Sie eine korrigierte Rechnung erneut ein; die zurückgewiesene Rechnung gilt als "
                  "nicht zugegangen.", "", "Mit freundlichen Grüßen", f"{inv.tenant.name} – Rechnungseingang"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- approval process

def _start_approval(inv: EInvoice, model, *, actor: str, proposal: dict | None = None):
    if proposal is None:
        proposal = booking_proposal(inv)
    data = {
        "rechnung": {k: v for k, v in {
            "einvoice_id": inv.pk, "nummer": inv.invoice_number or "?", "datum": (inv.issue_date or
                                                                                 timezone.localdate()).isoformat(),
            "art": "credit_note" if inv.document_type == "credit_note" else "invoice",
            "verkaeufer": inv.seller_name or "unbekannt", "ust_id": inv.seller_vat_id, "leitweg_id": inv.leitweg_id,
            "waehrung": inv.currency or "EUR", "netto": _s(inv.total_net), "umsatzsteuer": _s(inv.total_tax),
            "brutto": _s(inv.total_gross) or "0.00", "zahlbetrag": _s(inv.payable_amount) or "0.00",
            "faellig_am": inv.due_date.isoformat() if inv.due_date else None, "iban": inv.payment_iban,
            "zahlungsbedingungen": inv.payment_terms[:2000],
            "positionen": len(model.lines) if model is not None else 0,
        }.items() if v not in (None, "")},
        "empfaenger": {"org_unit": inv.org_unit.slug},
        "buchung": proposal,
    }
    # no savepoint: process_invoice lets any failure here end its transaction (an IntegrityError of a parallel
    # upload is handled after the rollback)
    result = submit_application(inv.tenant, APPROVAL_SERVICE, data, channel="einvoice",
                                idempotency_key=f"einvoice-{inv.pk}", savepoint=False,
                                org_unit_id=inv.org_unit_id)  # the ordering unit reads its invoices' cases
    if model is not None:
        file_to_case(inv, model, result.case, actor=actor)
    return result.case


def file_to_case(inv: EInvoice, model, case, *, actor: str) -> None:
    """Into the case's E-Akte: the received XML (linked, not copied) and every embedded attachment (BG-24)
    as a document of its own. The readable PDF view follows with `ensure_pdf_view`."""
    if inv.document_id:
        with connection.cursor() as cur:
            cur.execute(f"UPDATE {Document._meta.db_table} SET case_id = %s WHERE id = %s AND case_id IS NULL",
                        [case.pk, inv.document_id])
    label = "Gutschrift" if model.is_credit_note else "Rechnung"
    number = model.number or "ohne Nummer"
    for i, att in enumerate(model.embedded_files(), start=1):
        store_document(tenant=inv.tenant, case=case, kind=Document.Kind.ATTACHMENT,
                       title=f"Anlage zu {label} {number}: {att.description or att.id or att.filename or i}"[:300],
                       filename=att.filename or f"anlage-{i}",
                       content_type=sniff_content_type(att.content) or "application/octet-stream",
                       content=att.content, actor=actor)


def ensure_pdf_view(inv: EInvoice, *, actor: str):
    """The readable PDF view of the invoice (PDF/A, Typst) in the case file: rendered and stored once."""
    from .parse import parse_invoice
    from .render import render_invoice_pdf

    with transaction.atomic():
        locked = EInvoice.objects.select_for_update().get(pk=inv.pk)
        existing = Document.objects.filter(tenant=inv.tenant, meta__einvoice_view=inv.pk).first()
        if existing is not None:
            return existing
        if locked.document_id is None:
            return None
        with locked.document.file.open("rb") as fh:
            model = parse_invoice(fh.read(), locked.syntax)
        label = "Gutschrift" if model.is_credit_note else "Rechnung"
        number = model.number or "ohne Nummer"
        return store_document(tenant=inv.tenant, case=locked.case, kind=Document.Kind.INVOICE,
                              title=f"{label} {number} (Sichtansicht)", filename=f"{label.lower()}-{number}.pdf",
                              content_type="application/pdf", content=render_invoice_pdf(model), actor=actor,
                              meta={"einvoice_view": inv.pk})


def _s(d: Decimal | None) -> str | None:
    return None if d is None else f"{d:.2f}"


def booking_proposal(inv: EInvoice) -> dict:
    """Kontierung proposal: the last approved booking of the same seller, else the unit's default.

    (On receipt `_lookups` reads it together with the route; this is the same query on its own.)"""
    # index einvoice_seller_booked; without it this scanned every invoice of the tenant
    sql = (f"SELECT b.product, b.account, b.cash_account, b.cost_centre, (SELECT c.code FROM "
           f"{_t('ledger.CostCentre')} c WHERE c.tenant_id = %s AND c.org_unit_id = %s ORDER BY c.code LIMIT 1) "
           f"FROM (SELECT 1 AS one) x LEFT JOIN {_booking_sql()} ON 1 = 1")
    with connection.cursor() as cur:
        cur.execute(sql, [inv.tenant_id, inv.org_unit_id, inv.tenant_id, inv.seller_key, inv.pk or 0])
        *line, cost_centre = cur.fetchone()
    return _proposal(line, cost_centre)


# --------------------------------------------------------------------------- Skonto (BT-20, XRechnung)

_SKONTO = re.compile(r"#SKONTO#TAGE=(\d+)#PROZENT=(\d+(?:\.\d+)?)#(?:BASISBETRAG=(-?\d+(?:\.\d+)?)#)?")


def skonto_terms(payment_terms: str) -> list[tuple[int, Decimal, Decimal | None]]:
    """The XRechnung Skonto lines of BT-20 (`#SKONTO#TAGE=14#PROZENT=2.00#`): (days, percent, base)."""
    return [(int(d), Decimal(p), Decimal(b) if b else None) for d, p, b in _SKONTO.findall(payment_terms or "")]


def invoice_vat(inv: EInvoice, amount: Decimal) -> list:
    """The VAT breakdown (BG-23) of the received invoice as `finance.vat.VatItem`s, for the Vorsteuer of a
    Betrieb gewerblicher Art. If part of the invoice was paid before (BT-113, e.g. a Schlussrechnung after
    an Abschlagsrechnung), the breakdown is scaled to the amount still to pay. Without a readable file (rows
    made by hand) the key data stand in: the total VAT (BT-110) as invoiced VAT."""
    from .parse import parse_invoice

    model = None
    if inv.document_id:
        try:
            with inv.document.file.open("rb") as fh:
                model = parse_invoice(fh.read(), inv.syntax)
        except Exception:  # noqa: BLE001 - the file was valid on receipt; a storage problem falls back below
            log.exception("invoice %s: VAT breakdown not read at the Anordnung", inv.pk)
    if model is None or not model.vat_breakdown:
        tax = inv.total_tax or Decimal("0.00")
        return [VatItem(category="S", taxable=inv.total_net or Decimal("0.00"), tax=tax)] if tax else []
    items = [VatItem(category=(v.category or "").upper(), taxable=v.taxable_amount or Decimal("0.00"),
                     tax=v.tax_amount or Decimal("0.00"), rate=v.rate) for v in model.vat_breakdown]
    gross, prepaid = model.totals.tax_inclusive, model.totals.prepaid
    if prepaid and gross and gross > 0 and amount != gross:
        scale = amount / gross
        items = [VatItem(category=v.category, rate=v.rate, taxable=(v.taxable * scale).quantize(Decimal("0.01")),
                         tax=(v.tax * scale).quantize(Decimal("0.01"))) for v in items]
    return items


def book_approved_invoice(case, *, buchung: dict, override: bool, reason: str, actor: str, now) -> None:
    """Anordnung: Vorsteuer split (Betrieb gewerblicher Art), budget check, then the payable (Aufwand an
    Verbindlichkeit), due date, Skonto."""
    inv = EInvoice.objects.select_for_update().filter(case=case).first()
    if inv is None:
        raise NotFound("Zu diesem Vorgang gibt es keine E-Rechnung.")
    if inv.payable_id:
        return
    amount = inv.payable_amount if inv.payable_amount is not None else inv.total_gross
    if amount is None or amount <= 0:
        raise Invalid("Die Rechnung hat keinen positiven Zahlbetrag; Gutschriften werden nicht ausgezahlt.")
    if inv.currency and inv.currency != "EUR":
        raise Invalid("Nur Rechnungen in Euro können angeordnet werden.")
    if not inv.payment_iban:
        raise Invalid("Die Rechnung enthält keine Bankverbindung (BT-84); bitte beim Rechnungssteller anfordern.")
    year = timezone.localtime(now).year

    lines = apply_input_vat(inv.tenant, [ExpenseLine(
        account=buchung["konto"], amount=amount, cash_account=buchung["finanzkonto"], product=buchung["produkt"],
        cost_centre=buchung.get("kostenstelle", ""), text=f"{inv.seller_name} {inv.invoice_number}"[:200])],
        lambda: invoice_vat(inv, amount))
    # the budget bears the expense: net where the Vorsteuer is deducted
    needed = sum((ln.expense for ln in lines), Decimal("0.00"))
    check = check_budget(inv.tenant, year=year, product=buchung["produkt"], account=buchung["konto"], amount=needed)
    if not check.ok and not override:
        raise Invalid(f"Haushaltsmittel reichen nicht: verfügbar {check.available} €, benötigt {needed} € "
                      f"(Produkt {buchung['produkt']}, Konto {buchung['konto']}). Eine überplanmäßige Auszahlung "
                      "kann mit Begründung beantragt werden; ihr muss die Kämmerei zustimmen.",
                      errors=[{"pointer": "/data/ueberschreitung", "message": "Haushaltsmittel reichen nicht",
                               "field": "Überplanmäßige Auszahlung beantragen"}])
    issue = inv.issue_date or timezone.localdate()
    due = inv.due_date or (issue + dt.timedelta(days=30))
    discount, until = Decimal("0.00"), None
    for days, percent, base in skonto_terms(inv.payment_terms):
        d = ((base if base is not None else amount) * percent / 100).quantize(Decimal("0.01"))
        if d > discount:
            discount, until = d, issue + dt.timedelta(days=days)
    p = create_payable(
        inv.tenant, creditor_name=inv.seller_name, creditor_iban=inv.payment_iban,
        remittance=f"Rechnung {inv.invoice_number}"[:140], lines=lines, due_date=due, discount_amount=discount, discount_until=until if discount else None,
        source_type="einvoice", source_id=str(inv.pk), actor=actor, now=now)
    inv.payable = p
    try:  # the booked invoice's file holds its readable view; a rendering problem must not stop the booking
        with transaction.atomic():
            ensure_pdf_view(inv, actor=actor)
    except Exception:  # noqa: BLE001
        log.exception("invoice %s: PDF view not rendered at the Anordnung", inv.pk)
    if not check.ok:
        record_change(tenant=inv.tenant, actor=actor, action="budget.overridden", object_type="einvoice",
                      object_id=inv.pk, data={"available": str(check.available), "amount": str(needed),
                                              "reason": reason[:1000], **buchung}, event_type=None)
    _set_status(inv, InvoiceStatus.APPROVED, note=f"Anordnung {p.number}", actor=actor)


def current_booking(inv: EInvoice) -> dict:
    """The Kontierung as it stands: the last one entered in a completed approval task, else the proposal."""
    if inv.case_id is None:
        return {}
    for data in (inv.case.tasks.filter(state="completed", data__isnull=False)
                 .order_by("-completed_at", "-id").values_list("data", flat=True)):
        if isinstance(data, dict) and isinstance(data.get("buchung"), dict):
            return data["buchung"]
    return (inv.case.data or {}).get("buchung") or {}


def input_vat_summary(inv: EInvoice) -> str:
    """Whether the input VAT of the invoice is deducted, in one line in the active language (records written
    with it, e.g. the case history, call it under German): from the payable's lines once ordered (what was
    booked), before that from the current Kontierung ("voraussichtlich")."""
    from django.utils.translation import gettext as _


    if inv.payable_id:
        lines = list(inv.payable.lines.all())
        areas = list(dict.fromkeys(ln.input_vat_area for ln in lines if ln.input_vat_area))
        expense = eur(sum((ln.expense for ln in lines), Decimal("0.00")))
        if not areas:
            return _("nein – hoheitlicher Bereich, Aufwand brutto %(expense)s") % {"expense": expense}
        vorsteuer = sum((ln.input_vat + ln.reverse_charge_vat for ln in lines), Decimal("0.00"))
        owed = sum((ln.reverse_charge_vat for ln in lines), Decimal("0.00"))
        answer = _("teilweise") if any(not ln.input_vat_area for ln in lines) else _("ja")
        text = _("%(answer)s – Betrieb gewerblicher Art (%(areas)s): ") % {"answer": answer, "areas": "; ".join(areas)}
        if not vorsteuer:
            return text + _("die Rechnung enthält keine abziehbare Umsatzsteuer, Aufwand %(expense)s") % {
                "expense": expense}
        text += _("Vorsteuer %(amount)s") % {"amount": eur(vorsteuer)}
        if owed:
            text += _(" (davon als Leistungsempfänger geschuldet, § 13b/§ 1a UStG: %(amount)s)") % {"amount": eur(owed)}
        return text + _(", Aufwand netto %(expense)s") % {"expense": expense}
    buchung = current_booking(inv)
    if not buchung.get("produkt"):
        return ""
    area = input_vat_deduction(inv.tenant, [(buchung.get("produkt", ""), buchung.get("kostenstelle", ""))])[0]
    if area:
        return _("voraussichtlich ja – Betrieb gewerblicher Art (%(area)s): Aufwand netto, die Umsatzsteuer der "
                 "Rechnung wird als Vorsteuer gebucht") % {"area": area}
    return _("voraussichtlich nein – hoheitlicher Bereich, Aufwand brutto")


def reject_invoice_from_case(case, *, actor: str) -> None:
    inv = EInvoice.objects.select_for_update().filter(case=case).first()
    if inv is None:
        return
    last = (case.tasks.filter(state="completed").exclude(data__isnull=True).order_by("-completed_at", "-id").first())
    reason = (last.data or {}).get("reason", "") if last else ""
    inv.rejection_message = rejection_message(inv, extra=[f"Begründung: {reason}"] if reason else None)
    _set_status(inv, InvoiceStatus.REJECTED, note=reason[:500], actor=actor)


# --------------------------------------------------------------------------- queries

def _need_to_know(qs, membership):
    """As for cases (`cases.services.visible_cases`): clerks and approvers of a unit see the invoices routed to
    that unit or a unit below it; treasury, accounting, admin and members without a unit see all of them (the
    unrouted ones – invalid, misrouted – are the finance desk's)."""
    if membership is None:
        return qs

    units = readable_units(membership)
    return qs if units is None else qs.filter(org_unit_id__in=units)


def invoices_for(tenant, status: str | None = None, *, membership=None):
    """The tenant's invoices, newest first; with `membership` only those the member may read."""
    qs = _need_to_know(EInvoice.objects.filter(tenant=tenant), membership).select_related(
        "case", "payable", "org_unit")
    if status:
        if status not in InvoiceStatus.values:
            raise Invalid(f"Unbekannter Status; erlaubt: {', '.join(InvoiceStatus.values)}.")
        qs = qs.filter(status=status)
    return qs.order_by("-received_at", "-id")


def get_invoice(tenant, invoice_id: int, *, membership=None) -> EInvoice:
    inv = (_need_to_know(EInvoice.objects.filter(tenant=tenant, pk=invoice_id), membership)
           .select_related("case", "payable", "org_unit").first())
    if inv is None:
        raise NotFound("Diese E-Rechnung gibt es nicht.")
    return inv


def invoice_status(inv: EInvoice) -> str:
    """The status shown: `paid` once the payable's payment is on the bank statement."""
    if inv.payable_id and inv.payable.status == "paid":
        return InvoiceStatus.PAID
    return inv.status

