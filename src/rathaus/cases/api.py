"""Clerk API (bearer token): tasks and cases of the caller's tenant."""

from __future__ import annotations

from ninja import Router, Schema

from rathaus.core.api import DbId
from rathaus.core.web import clean_key
from rathaus.tenants.auth import TokenAuth
from rathaus.tenants.models import OrgUnit

from . import services
from .facts import case_details
from .models import CaseStatus

router = Router(tags=["Sachbearbeitung"], auth=TokenAuth())


class CaseRef(Schema):
    id: int
    reference: str


class TaskOut(Schema):
    id: int
    case: CaseRef
    name: str
    title: str
    role: str
    org_unit: str | None
    form_schema: dict
    due_at: str
    assignee: str | None
    state: str


class CompleteIn(Schema):
    data: dict


class CaseListItem(Schema):
    id: int
    reference: str
    service: str
    status: str
    status_label: str
    applicant: str
    created_at: str
    due_date: str


class CaseOut(CaseListItem):
    service_version: str
    data: dict
    history: list[dict]
    tasks: list[dict]
    documents: list[dict]
    receivables: list[dict]


def task_out(t) -> dict:
    return {
        "id": t.pk, "case": {"id": t.case_id, "reference": t.case.reference}, "name": t.name, "title": t.title,
        "role": t.role, "org_unit": t.org_unit.slug if t.org_unit_id and t.org_unit else None,
        "form_schema": t.form_schema, "due_at": t.due_at.isoformat(),
        "assignee": t.assignee.get_username() if t.assignee_id else None, "state": t.state,
    }


def case_item(c) -> dict:
    return {
        "id": c.pk, "reference": c.reference, "service": c.service_version.service.key, "status": c.status,
        "status_label": CaseStatus(c.status).label, "applicant": c.applicant_name,
        "created_at": c.created_at.isoformat(), "due_date": c.due_date.isoformat(),
    }


@router.get("/tasks", response=list[TaskOut], summary="Offene Aufgaben, die ich bearbeiten darf")
def list_tasks(request, case: DbId | None = None):
    tasks = services.workable_tasks(request.membership, case_id=case)
    for t in tasks:
        t.org_unit  # noqa: B018 - loaded below in one query
    return [task_out(t) for t in _with_units(tasks)]


def _with_units(tasks):
    ids = {t.org_unit_id for t in tasks if t.org_unit_id}
    units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=ids)} if ids else {}
    for t in tasks:
        if t.org_unit_id:
            t.org_unit = units.get(t.org_unit_id)
    return tasks


@router.post("/tasks/{task_id}/claim", response=TaskOut, summary="Aufgabe übernehmen")
def claim(request, task_id: DbId):
    return task_out(services.claim_task(request.membership, task_id))


@router.post("/tasks/{task_id}/release", response=TaskOut, summary="Aufgabe zurückgeben")
def release(request, task_id: DbId):
    return task_out(services.release_task(request.membership, task_id))


@router.post("/tasks/{task_id}/complete", response=TaskOut, summary="Aufgabe abschließen")
def complete(request, task_id: DbId, payload: CompleteIn):
    return task_out(services.complete_task(request.membership, task_id, payload.data))


@router.get("/cases", response=list[CaseListItem], summary="Vorgänge")
def list_cases(request, status: str | None = None, service: str | None = None, limit: int = 100, offset: int = 0):
    limit = max(1, min(limit, 500))
    offset = max(0, min(offset, 10**9))
    if any(v is not None and clean_key(v) is None for v in (status, service)):
        return []  # a filter value no case can have (NUL byte, absurd length)
    qs = services.cases_for(request.membership, status=status, service=service)[offset:offset + limit]
    return [case_item(c) for c in qs]


@router.get("/cases/{case_id}", response=CaseOut, summary="Ein Vorgang mit Verlauf, Aufgaben und Dokumenten")
def get_case(request, case_id: DbId):
    c = services.get_case(request.membership, case_id)
    return case_detail(c)


def case_detail(c) -> dict:
    out = case_item(c)
    out["service_version"] = c.service_version.version
    out["data"] = c.data
    out["history"] = [
        {"at": e.at.isoformat(), "kind": e.kind, "status": e.status, "message": e.message, "public": e.public,
         "actor": e.actor}
        for e in c.events.all()
    ]
    tasks = list(c.tasks.select_related("assignee", "completed_by").order_by("created_at", "id"))
    _with_units(tasks)
    out["tasks"] = [
        {**task_out(t), "completed_by": t.completed_by.get_username() if t.completed_by_id else None,
         "completed_at": t.completed_at.isoformat() if t.completed_at else None, "data": t.data}
        for t in tasks
    ]
    out["documents"] = [
        {"id": d.pk, "title": d.title, "kind": d.kind, "filename": d.filename, "content_type": d.content_type,
         "size": d.size, "sha256": d.sha256, "version": d.version, "created_at": d.created_at.isoformat(),
         "released_to_applicant": d.released_to_applicant, "url": f"/api/v1/documents/{d.pk}/content"}
        for d in c.documents.all()
    ]
    out.update(case_details(c))  # e.g. "receivables", registered by finance
    return out
