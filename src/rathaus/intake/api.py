"""OZG front door over the API: submit an application, look at it with the access code."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from ninja import Header, Router, Schema, Status
from pydantic import Field

from rathaus.cases.facts import case_fees
from rathaus.cases.models import CaseStatus
from rathaus.catalog.services import package_is_public
from rathaus.core import throttle
from rathaus.core.api import MalformedJson, is_json_content_type, parse_json_body
from rathaus.core.errors import Invalid, NotFound, PayloadTooLarge, UnsupportedMediaType
from rathaus.core.web import clean_key, document_response, read_form
from rathaus.documents.services import Upload
from rathaus.tenants.web import api_tenant

from . import services

router = Router(tags=["Antragstellung"])


def _demo_examples() -> dict:
    base = Path(__file__).resolve().parent.parent / "catalog" / "demo_services"
    out = {}
    for f in sorted(base.glob("*/form.schema.json")):
        try:
            ex = (json.loads(f.read_text(encoding="utf-8")).get("examples") or [None])[0]
        except (OSError, ValueError):
            continue

        if ex is not None and package_is_public(f.parent):
            key = f.parent.name
            out[key] = {"summary": key, "value": {"service": key, "data": ex}}
    return out


class SubmissionOut(Schema):
    id: int
    reference: str
    access_code: str
    status: str
    service: str
    due_date: str
    status_url: str


class HistoryItem(Schema):
    at: str
    status: str
    status_label: str
    message: str


class DocumentRef(Schema):
    id: int
    title: str
    kind: str
    content_type: str
    size: int
    sha256: str
    url: str
    api_url: str


class PaymentPayTo(Schema):
    name: str
    iban: str
    bic: str


class ApplicantPaymentOut(Schema):
    kassenzeichen: str
    purpose: str
    amount: str
    due_date: str
    status: str = Field(description="open, partially_paid, paid, overpaid")
    open_amount: str
    last_payment: str | None = Field(description="booking day of the last payment received")
    overdue: bool
    pay_to: PaymentPayTo | None = Field(description="the municipal account, while something is still to be paid")


class ApplicantViewOut(Schema):
    reference: str
    service: str
    service_name: str
    status: str
    status_label: str
    submitted_at: str
    due_date: str
    history: list[HistoryItem]
    documents: list[DocumentRef]
    payments: list[ApplicantPaymentOut] = []


MULTIPART = "multipart/form-data"
_SUBMISSION_JSON_SCHEMA = {
    "type": "object",
    "required": ["service", "data"],
    "properties": {
        "service": {"type": "string", "title": "Leistung", "description": "Schlüssel der Leistung"},
        "data": {"type": "object", "title": "Antragsdaten", "description": "Gemäß Formular-Schema der Leistung",
                 "additionalProperties": True},
    },
}
_SUBMISSION_MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["service", "data"],
    "properties": {
        "service": {"type": "string", "description": "Schlüssel der Leistung"},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "description": "Antragsdaten als JSON-Text (gemäß Formular-Schema der Leistung)"},
    },
    "additionalProperties": {
        "type": "string", "format": "binary",
        "description": "Je Anlage ein Dateifeld; Feldname = `key` aus `attachments` der Leistung "
                       "(GET /services/{key}). Der Dateityp wird am Inhalt geprüft.",
    },
}


def _submission_request_body() -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": _SUBMISSION_JSON_SCHEMA, "examples": _demo_examples()},
            MULTIPART: {"schema": _SUBMISSION_MULTIPART_SCHEMA,
                        "encoding": {"data": {"contentType": "application/json"}}},
        },
    }


def _max_multipart_bytes() -> int:
    """Upper bound of a multipart request: all files together plus the form fields."""
    return settings.RATHAUS_MAX_UPLOAD_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _check_submission_fields(body) -> tuple[str, dict]:
    if not isinstance(body, dict):
        raise Invalid("Die Anfrage entspricht nicht dem erwarteten Format.",
                      errors=[{"pointer": "", "message": "Erwartet wird ein JSON-Objekt mit service und data."}])
    errors = []
    service, data = body.get("service"), body.get("data")
    if service is None or service == "":
        errors.append({"pointer": "/service", "message": "Pflichtangabe fehlt."})
    elif not isinstance(service, str):
        errors.append({"pointer": "/service", "message": "Erwartet wird: Text."})
    if data is None:
        errors.append({"pointer": "/data", "message": "Pflichtangabe fehlt."})
    elif not isinstance(data, dict):
        errors.append({"pointer": "/data", "message": "Erwartet wird ein JSON-Objekt."})
    if errors:
        raise Invalid("Die Anfrage entspricht nicht dem erwarteten Format.", errors=errors)
    return service, data


def _read_multipart(request) -> tuple[str, dict, list[Upload]]:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = _max_multipart_bytes()
    if length > limit:  # refuse before Django spools the files to disk
        raise PayloadTooLarge(f"Die Anfrage darf höchstens {limit // (1024 * 1024)} MB groß sein.")
    post, files = read_form(request)
    raw = post.get("data")
    body: dict = {"service": post.get("service")}
    if raw is not None:
        try:
            body["data"] = parse_json_body(raw.encode("utf-8"), prefix="/data")
        except MalformedJson as e:  # in a form field: a field error
            raise Invalid("Das Feld data enthält kein gültiges JSON.",
                          errors=[{"pointer": "/data", "message": "Kein gültiges JSON."}]) from e
    service, data = _check_submission_fields(body)
    uploads = []
    total = 0
    for key in files:
        for f in files.getlist(key):
            total += f.size or 0
            if total > settings.RATHAUS_MAX_UPLOAD_BYTES:
                raise PayloadTooLarge(
                    f"Die Anlagen dürfen zusammen höchstens "
                    f"{settings.RATHAUS_MAX_UPLOAD_BYTES // (1024 * 1024)} MB groß sein.")
            # bounded read: one byte over the global limit is enough for the size check to fail
            content = f.read(settings.RATHAUS_MAX_UPLOAD_BYTES + 1)
            uploads.append(Upload(key, f.name or key, f.content_type or "application/octet-stream", content))
    keys = [u.key for u in uploads]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise Invalid("Je Anlage ist nur eine Datei möglich.",
                      errors=[{"pointer": f"/attachments/{k}", "message": "Nur eine Datei je Anlage."}
                              for k in dupes])
    return service, data, uploads


def read_submission(request) -> tuple[str, dict, list[Upload]]:
    """(service, data, uploads) from a JSON or multipart/form-data request; problems as DomainError."""
    ctype = (request.content_type or "").lower()
    if ctype == MULTIPART:
        return _read_multipart(request)
    if not is_json_content_type(ctype):
        raise UnsupportedMediaType("Erwartet wird application/json oder multipart/form-data.")
    body = parse_json_body(request.body)  # request.body raises RequestDataTooBig above the limit -> 413
    return (*_check_submission_fields(body), [])


@router.post(
    "/submissions",
    response={201: SubmissionOut, 200: SubmissionOut},
    summary="Antrag stellen",
    description=(
        "Stellt einen Antrag. `data` wird gegen das Formular-Schema der Leistung geprüft; Fehler kommen als "
        "422 mit `errors[].pointer` (z. B. `/data/antragsteller/name`). Ein `Idempotency-Key` sorgt dafür, "
        "dass eine wiederholte Anfrage die erste Antwort erhält (200) und keinen zweiten Vorgang anlegt; "
        "derselbe Schlüssel mit anderem Inhalt ergibt 409.\n\n"
        "Anlagen: als `multipart/form-data` mit den Feldern `service`, `data` (JSON-Text) und je Anlage "
        "einem Dateifeld, benannt nach dem `key` der Anlage. Typ (am Inhalt erkannt) und Größe werden "
        "geprüft (422 mit `errors[].pointer` `/attachments/<key>`; 413 bei zu großen Anfragen). "
        "Andere Inhaltstypen: 415."
    ),
    openapi_extra={
        "requestBody": _submission_request_body(),
        "responses": {
            400: {"description": "Kein gültiges JSON"},
            404: {"description": "Leistung oder Mandant unbekannt"},
            409: {"description": "Idempotency-Key mit anderem Inhalt wiederverwendet"},
            413: {"description": "Anfrage oder Anlage zu groß"},
            415: {"description": "Nicht unterstützter Content-Type"},
            422: {"description": "Ungültige Daten (`errors[].pointer`, `errors[].message`)"},
        },
    },
)
def create_submission(request, tenant: str | None = None,
                      idempotency_key: str | None = Header(None, alias="Idempotency-Key")):
    t = api_tenant(request, tenant)
    if idempotency_key is not None and clean_key(idempotency_key) is None:
        raise Invalid("Idempotency-Key: 1 bis 200 Zeichen.",
                      errors=[{"pointer": "/Idempotency-Key", "message": "1 bis 200 Zeichen, ohne Steuerzeichen."}])
    service, data, uploads = read_submission(request)
    result = services.submit(t, service, data, idempotency_key=idempotency_key, channel="api",
                                attachments=uploads or None)
    case = result.case
    body = {
        "id": case.pk,
        "reference": case.reference,
        "access_code": result.access_code,
        "status": case.status,
        "service": service,
        "due_date": case.due_date.isoformat(),
        "status_url": f"/status/{case.reference}/",
    }
    return Status(201 if result.created else 200, body)


def applicant_view(case) -> dict:
    docs = [
        {"id": d.pk, "title": d.title, "kind": d.kind, "content_type": d.content_type, "size": d.size,
         "sha256": d.sha256, "url": f"/status/{case.reference}/dokumente/{d.pk}/",
         "api_url": f"/api/v1/submissions/{case.reference}/documents/{d.pk}/content"}
        for d in case.documents.filter(released_to_applicant=True).order_by("created_at", "id")
    ]
    history = [
        {"at": e.at.isoformat(), "status": e.status, "status_label": CaseStatus(e.status).label if e.status else "",
         "message": e.message}
        for e in case.events.filter(public=True).order_by("at", "id")
    ]
    sv = case.service_version
    return {
        "reference": case.reference, "service": sv.service.key, "service_name": sv.name, "status": case.status,
        "status_label": CaseStatus(case.status).label, "submitted_at": case.created_at.isoformat(),
        "due_date": case.due_date.isoformat(), "history": history, "documents": docs,
        "payments": [
            {**p, "amount": str(p["amount"]), "open_amount": str(p["open_amount"]),
             "due_date": p["due_date"].isoformat(),
             "last_payment": p["last_payment"].isoformat() if p["last_payment"] else None,
             "pay_to": {k: p["pay_to"][k] for k in ("name", "iban", "bic")} if p["pay_to"] else None}
            for p in case_fees(case)],
    }


@router.get("/submissions/{reference}", response=ApplicantViewOut, summary="Status eines Antrags (Zugangscode)")
def get_submission(request, reference: str, access_code: str = "", tenant: str | None = None):
    if not access_code:
        raise Invalid("Der Zugangscode fehlt.", errors=[{"pointer": "/access_code", "message": "Pflichtangabe fehlt."}])
    t = api_tenant(request, tenant)
    case = services.case_for_applicant(t, reference, access_code, client=throttle.client_of(request))
    services.receipt_for(case)  # rendered on first access, not while submitting
    return applicant_view(case)


@router.get("/submissions/{reference}/documents/{doc_id}/content", response={200: None},
            summary="Freigegebenes Dokument eines Antrags (Zugangscode)",
            description="Bescheid, Eingangsbestätigung und andere für die antragstellende Person freigegebene "
                        "Dokumente; mit Aktenzeichen und Zugangscode wie beim Status.")
def get_submission_document(request, reference: str, doc_id: int, access_code: str = "",
                            tenant: str | None = None):
    if not access_code:
        raise Invalid("Der Zugangscode fehlt.", errors=[{"pointer": "/access_code", "message": "Pflichtangabe fehlt."}])
    t = api_tenant(request, tenant)
    if not 0 < doc_id < 2**63:
        raise NotFound("Dokument nicht gefunden.")
    case = services.case_for_applicant(t, reference, access_code, client=throttle.client_of(request))
    doc = case.documents.filter(pk=doc_id, released_to_applicant=True).first()
    if doc is None:
        raise NotFound("Dokument nicht gefunden.")
    return document_response(doc)
