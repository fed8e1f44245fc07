"""Invoice inbox API (bearer token): receive e-invoices, list them, read one with its findings."""

from __future__ import annotations

from ninja import Router, Schema, Status

from rathaus.core.api import DbId
from rathaus.core.errors import Forbidden, Invalid, PayloadTooLarge, UnsupportedMediaType
from rathaus.core.web import read_form, read_limited_body
from rathaus.tenants.auth import TokenAuth

from . import services
from .models import InvoiceStatus

router = Router(tags=["E-Rechnung"], auth=TokenAuth())

RECEIVE_ROLES = ("treasury", "accounting", "admin")
READ_ROLES = ("treasury", "accounting", "admin", "clerk", "approver")


def _require(membership, roles, what):
    if not any(membership.has_role(r) for r in roles):
        raise Forbidden(f"{what} ist dem Rechnungseingang vorbehalten (Rolle: {', '.join(roles)}).")


class FindingOut(Schema):
    rule: str
    message: str
    location: str


class InvoiceOut(Schema):
    id: int
    status: str
    status_label: str
    syntax: str
    document_type: str
    valid: bool | None
    errors: list[FindingOut]
    warnings: list[FindingOut]
    invoice_number: str
    issue_date: str | None
    seller: str
    leitweg_id: str
    amount: str | None
    currency: str
    duplicate_of: int | None
    case: dict | None
    payable: str | None
    sha256: str
    document: str
    received_at: str


def invoice_out(inv) -> dict:
    status = services.invoice_status(inv)
    fnd = lambda xs: [{"rule": x.get("rule", ""), "message": x.get("message", ""),  # noqa: E731
                       "location": x.get("location", "")} for x in xs]
    return {
        "id": inv.pk, "status": status, "status_label": InvoiceStatus(status).label, "syntax": inv.syntax,
        "document_type": inv.document_type, "valid": inv.valid, "errors": fnd(inv.errors),
        "warnings": fnd(inv.warnings), "invoice_number": inv.invoice_number,
        "issue_date": inv.issue_date.isoformat() if inv.issue_date else None, "seller": inv.seller_name,
        "leitweg_id": inv.leitweg_id, "amount": str(inv.payable_amount) if inv.payable_amount is not None else None,
        "currency": inv.currency, "duplicate_of": inv.duplicate_of_id,
        "case": {"id": inv.case_id, "reference": inv.case.reference} if inv.case_id else None,
        "payable": inv.payable.number if inv.payable_id else None, "sha256": inv.sha256,
        "document": f"/api/v1/documents/{inv.document_id}/content" if inv.document_id else "",
        "received_at": inv.received_at.isoformat(),
    }


@router.post("/einvoices", response={201: InvoiceOut}, summary="E-Rechnung empfangen (XRechnung UBL oder CII)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/xml": {"schema": {"type": "string", "format": "binary"}},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "file": {"type": "string", "format": "binary"}}}}}}})
def receive(request):
    _require(request.membership, RECEIVE_ROLES, "Das Einliefern von Rechnungen")
    ctype = (request.content_type or "").split(";")[0].strip().lower()
    limit = services.max_bytes()
    if ctype in ("application/xml", "text/xml"):
        body, size = read_limited_body(request, limit)
        with body:
            content = body.read()
        filename = "rechnung.xml"
    elif ctype == "multipart/form-data":
        upload = read_form(request)[1].get("file")
        if upload is None:
            raise Invalid("Im Formular fehlt das Feld „file“ mit der Rechnung.")
        if upload.size > limit:
            raise PayloadTooLarge(f"Die Rechnung ist zu groß (höchstens {limit // (1024 * 1024)} MB).")
        content = upload.read()
        filename = upload.name
    else:
        raise UnsupportedMediaType("Erwartet wird eine XRechnung als application/xml oder multipart/form-data.")
    if not content:
        raise Invalid("Die Rechnung ist leer.")
    inv = services.receive_invoice(request.membership.tenant, content, actor=request.user.get_username(),
                                   channel="api", filename=filename)
    return Status(201, invoice_out(inv))


@router.get("/einvoices", response=list[InvoiceOut], summary="Eingegangene E-Rechnungen")
def list_invoices(request, status: str | None = None, limit: int = 100, offset: int = 0):
    _require(request.membership, READ_ROLES, "Die Rechnungsübersicht")
    limit = max(1, min(limit, 500))
    offset = max(0, min(offset, 10**9))
    return [invoice_out(i) for i in services.invoices_for(request.membership.tenant, status,
                                                            membership=request.membership)[offset:offset + limit]]


# `int:` so that POST /einvoices/validate is not taken for an id
@router.get("/einvoices/{int:invoice_id}", response=InvoiceOut, summary="Eine E-Rechnung mit Prüfergebnis")
def get_invoice(request, invoice_id: DbId):
    _require(request.membership, READ_ROLES, "Die Rechnungsübersicht")
    return invoice_out(services.get_invoice(request.membership.tenant, invoice_id, membership=request.membership))
