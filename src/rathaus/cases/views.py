"""Staff web pages: login, inbox, case list, case page with task work (server-rendered, no JavaScript)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from rathaus.catalog.models import ServiceVersion
from rathaus.catalog.services import active_services
from rathaus.core import forms
from rathaus.core.errors import Conflict, Forbidden, Invalid, NotFound
from rathaus.core.i18n import choice_label, choice_options
from rathaus.core.web import clean_key, document_response, staff_view
from rathaus.documents.models import Document
from rathaus.documents.services import may_read

from . import services
from .facts import case_facts, case_fees
from .models import CaseStatus, TaskState

PAGE_SIZE = 25
ROLE_LABELS = {"clerk": pgettext_lazy("role", "Sachbearbeitung"),
               "approver": pgettext_lazy("role", "Leitung"),
               "treasury": pgettext_lazy("role", "Stadtkasse"),
               "accounting": pgettext_lazy("role", "Kämmerei"),
               "admin": pgettext_lazy("role", "Administration")}


# --------------------------------------------------------------------------- login

class LoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


# --------------------------------------------------------------------------- helpers

def _versions(ids) -> dict[int, ServiceVersion]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    qs = ServiceVersion.objects.filter(pk__in=ids).select_related("service").only(
        "id", "name", "version", "service__key")
    return {sv.pk: sv for sv in qs}


def _service_choices(tenant) -> list[dict]:
    return [{"key": s.key, "name": s.current_version.name} for s in active_services(tenant)]


def _person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


# --------------------------------------------------------------------------- inbox & case list

@staff_view
def inbox(request, membership):
    service = request.GET.get("leistung", "")
    overdue_only = request.GET.get("ueberfaellig") == "1"
    tasks = services.workable_tasks(membership)
    versions = _versions(t.case.service_version_id for t in tasks)
    now = timezone.now()
    rows = []
    for t in tasks:
        sv = versions.get(t.case.service_version_id)
        if service and (sv is None or sv.service.key != service):
            continue
        overdue = t.due_at < now
        if overdue_only and not overdue:
            continue
        rows.append({"task": t, "case": t.case, "sv": sv, "overdue": overdue, "assignee": _person(t.assignee)})
    mine = [r for r in rows if r["task"].assignee_id == request.user.pk]
    free = [r for r in rows if r["task"].assignee_id is None]
    return render(request, "staff/inbox.html", {
        "mine": mine, "free": free, "services": _service_choices(membership.tenant),
        "filter_service": service, "filter_overdue": overdue_only,
        "filtered": bool(service or overdue_only),
    })


@staff_view
def case_list(request, membership):
    status = request.GET.get("status", "")
    service = clean_key(request.GET.get("leistung", ""), 60) or ""  # a key with NUL names no service
    if status not in CaseStatus.values:
        status = ""
    qs = services.cases_for(membership, status=status or None, service=service or None)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("seite"))
    today = timezone.localdate()
    cases = [{"case": c, "status_label": choice_label(CaseStatus, c.status),
              "overdue": c.closed_at is None and c.due_date < today} for c in page.object_list]
    params = {k: v for k, v in {"status": status, "leistung": service}.items() if v}
    return render(request, "staff/cases.html", {
        "cases": cases, "page": page, "statuses": choice_options(CaseStatus),
        "services": _service_choices(membership.tenant),
        "filter_status": status, "filter_service": service, "query": urlencode(params),
    })


# --------------------------------------------------------------------------- case page & tasks

def _case_page(request, membership, case_id: int, task_states: dict | None = None, status: int = 200):
    try:
        case = services.get_case(membership, case_id)
    except NotFound as e:
        raise Http404(str(e)) from e
    sv = case.service_version
    workable = {t.pk for t in services.workable_tasks(membership, case_id=case.pk)}
    tasks = []
    summary = []
    now = timezone.now()
    for t in case.tasks.select_related("assignee", "completed_by").order_by("created_at", "id"):
        item = {"task": t, "open": t.state == TaskState.OPEN, "state_label": choice_label(TaskState, t.state),
                "assignee": _person(t.assignee), "completed_by": _person(t.completed_by),
                "can_work": t.pk in workable, "mine": t.assignee_id == request.user.pk,
                "overdue": t.state == TaskState.OPEN and t.due_at < now,
                "role_label": ROLE_LABELS.get(t.role, t.role)}
        if item["open"] and item["can_work"]:
            state = (task_states or {}).get(t.pk) or forms.initial_state(t.form_schema, services.task_prefill(t))
            renderer = forms.FormRenderer(t.form_schema, state, prefix=f"t{t.pk}", heading_level=4)
            item["form"] = renderer.render()
            item["summary"] = renderer.summary()
            summary += item["summary"]
        elif t.state == TaskState.COMPLETED:
            item["data_html"] = forms.render_data(t.form_schema, t.data, heading_level=5)
        tasks.append(item)
    events = list(case.events.all())
    documents = list(case.documents.all())
    fees = case_fees(case)  # the facts the applicant sees: for the citizen who calls about the payment
    return render(request, "staff/case.html", {
        "fees": fees, "treasury_link": any(membership.has_role(r) for r in ("treasury", "accounting", "admin")),
        "case": case, "sv": sv, "status_label": choice_label(CaseStatus, case.status), "facts": case_facts(case),
        "overdue": case.closed_at is None and case.due_date < timezone.localdate(),
        "data_html": forms.render_data(sv.form_schema, case.data, heading_level=3),
        "events": events, "tasks": tasks, "documents": documents, "summary": summary,
    }, status=status)


@staff_view
def case_detail(request, membership, case_id: int):
    return _case_page(request, membership, case_id)


def _back(case_id: int, task_id: int | None = None):
    url = reverse("cases:case", args=[case_id])
    return redirect(url + (f"#aufgabe-{task_id}" if task_id else ""))


@require_POST
@staff_view
def task_action(request, membership, case_id: int, task_id: int, action: str):
    try:
        if action == "uebernehmen":
            task = services.claim_task(membership, task_id)
            messages.success(request, _("Sie bearbeiten jetzt die Aufgabe „%(title)s“.")
                             % {"title": task.title})
        elif action == "zurueckgeben":
            task = services.release_task(membership, task_id)
            messages.success(request, _("Die Aufgabe „%(title)s“ ist wieder für alle offen.")
                             % {"title": task.title})
        elif action == "erledigen":
            schema = _task_schema(membership, task_id)
            parsed = forms.parse(schema, request.POST)
            if parsed.action:
                return _case_page(request, membership, case_id, {task_id: parsed.state})
            try:
                task = services.complete_task(membership, task_id, parsed.data)
            except Invalid as e:
                parsed.state.errors = forms.errors_by_pointer(e.errors) or {"": [e.detail]}
                return _case_page(request, membership, case_id, {task_id: parsed.state})
            messages.success(request, _("Die Aufgabe „%(title)s“ ist erledigt.") % {"title": task.title})
        else:
            raise Http404("Unbekannte Aktion")
    except NotFound as e:
        raise Http404(str(e)) from e
    except (Forbidden, Conflict) as e:
        messages.error(request, e.detail)  # the service's message: German, as in the API (docs/i18n.md)
        return _back(case_id, task_id)
    return _back(task.case_id, task_id if action != "erledigen" else None)


def _task_schema(membership, task_id: int) -> dict:
    from .models import Task

    schema = (Task.objects.filter(pk=task_id, tenant_id=membership.tenant_id)
              .values_list("form_schema", flat=True).first())
    if schema is None:
        raise NotFound("Aufgabe nicht gefunden.")
    return schema


@staff_view
def document(request, membership, doc_id: int):
    doc = Document.objects.filter(pk=doc_id, tenant_id=membership.tenant_id).first()
    # the API's role and need-to-know check (a clerk does not open bank statements or other units' cases)
    if doc is None or not may_read(membership, doc):
        raise Http404("Dokument nicht gefunden")
    return document_response(doc)
