"""OZG front door over the API: submit an application, look at it with the access code."""

from __future__ import annotations

import json
from pathlib import Path

from ninja import Header, Router, Schema, Status

from rathaus.catalog.api import public_tenant
from rathaus.cases.models import CaseStatus
from rathaus.cases.services import case_for_applicant, submit_application
from rathaus.core.errors import Invalid

router = Router(tags=["Antragstellung"])


def _demo_examples() -> dict:
    base = Path(__file__).resolve().parent.parent / "catalog" / "demo_services"
    out = {}
    for f in sorted(base.glob("*/form.schema.json")):
        try:
            ex = (json.loads(f.read_text(encoding="utf-8")).get("examples") or [None])[0]
        except (OSError, ValueError):
            continue
        if ex is not None:
            key = f.parent.name
            out[key] = {"summary": key, "value": {"service": key, "data": ex}}
    return out


class SubmissionIn(Schema):
    service: str
    data: dict


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


@router.post(
    "/submissions",
    response={201: SubmissionOut, 200: SubmissionOut},
    summary="Antrag stellen",
    description=(
        "Stellt einen Antrag. `data` wird gegen das Formular-Schema der Leistung geprüft; Fehler kommen als "
        "422 mit `errors[].pointer` (z. B. `/data/antragsteller/name`). Ein `Idempotency-Key` sorgt dafür, "
        "dass eine wiederholte Anfrage die erste Antwort erhält und keinen zweiten Vorgang anlegt."
    ),
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": _demo_examples()}}}},
)
def create_submission(request, payload: SubmissionIn, tenant: str | None = None,
                      idempotency_key: str | None = Header(None, alias="Idempotency-Key")):
    t = public_tenant(request, tenant)
    result = submit_application(t, payload.service, payload.data, idempotency_key=idempotency_key, channel="api")
    case = result.case
    body = {
        "id": case.pk,
        "reference": case.reference,
        "access_code": result.access_code,
        "status": case.status,
        "service": payload.service,
        "due_date": case.due_date.isoformat(),
        "status_url": f"/status/{case.reference}/",
    }
    return Status(201 if result.created else 200, body)


def applicant_view(case) -> dict:
    docs = [
        {"id": d.pk, "title": d.title, "kind": d.kind, "content_type": d.content_type, "size": d.size,
         "sha256": d.sha256, "url": f"/status/{case.reference}/dokumente/{d.pk}/"}
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
    }


@router.get("/submissions/{reference}", response=ApplicantViewOut, summary="Status eines Antrags (Zugangscode)")
def get_submission(request, reference: str, access_code: str = "", tenant: str | None = None):
    if not access_code:
        raise Invalid("Der Zugangscode fehlt.", errors=[{"pointer": "/access_code", "message": "Pflichtangabe fehlt."}])
    case = case_for_applicant(public_tenant(request, tenant), reference, access_code)
    return applicant_view(case)
