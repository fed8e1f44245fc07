"""Public web pages: services, application form, confirmation, status lookup (no JavaScript needed)."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from rathaus.cases.facts import case_fees
from rathaus.cases.models import CaseStatus
from rathaus.catalog.services import active_services, get_active_service, is_public
from rathaus.core import forms, throttle
from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.core.i18n import choice_label, translated
from rathaus.core.web import document_response
from rathaus.documents.services import Upload, check_attachments
from rathaus.tenants.web import request_tenant

from . import services

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
CONFIRMATION_KEY = "intake_confirmation"
STATUS_KEY = "status_codes"  # reference -> access code the applicant entered (server-side session)
MAX_REMEMBERED = 20
NOT_FOUND_MESSAGE = gettext_lazy("Kein Antrag mit diesem Aktenzeichen und Zugangscode gefunden.")


# --------------------------------------------------------------------------- start page

def start(request):
    tenant = request_tenant(request)
    offered = [{"key": s.key, "sv": s.current_version} for s in active_services(tenant)
              if is_public(s.current_version)]
    return render(request, "intake/start.html", {"services": offered})


# --------------------------------------------------------------------------- application form

def _too_large_page(request, status=413):
    limit_mb = settings.RATHAUS_MAX_UPLOAD_BYTES // (1024 * 1024)
    return render(request, "intake/too_large.html", {"limit_mb": limit_mb}, status=status)


def _read_body(request):
    """A friendly page for request bodies beyond the limits (instead of a bare 400), else None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.RATHAUS_MAX_UPLOAD_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return _too_large_page(request)
    try:
        request.POST  # noqa: B018 - parse now to catch the size errors here
        request.FILES  # noqa: B018
    except (RequestDataTooBig, TooManyFieldsSent):
        return _too_large_page(request)
    except MultiPartParserError:
        return _too_large_page(request, status=400)
    return None


def _uploads(request, sv) -> list[Upload]:
    uploads = []
    for spec in sv.attachments:
        f = request.FILES.get(f"/attachments/{spec['key']}")
        if f is None or not f.name:
            continue
        limit = min(int(float(spec.get("max_size_mb", 10)) * 1024 * 1024), settings.RATHAUS_MAX_UPLOAD_BYTES)
        content = f.read(limit + 1)  # one byte over the limit is enough for the size check
        uploads.append(Upload(spec["key"], f.name, f.content_type or "application/octet-stream", content))
    return uploads


def _render_form(request, sv, state: forms.FormState, token: str, *, status=200, notice: str = "",
                 files_dropped: bool = False):
    renderer = forms.FormRenderer(sv.form_schema, state, prefix="f", attachments=sv.attachments)
    fields = renderer.render()
    ctx = {
        "sv": sv, "service_key": sv.service.key, "fields": fields, "summary": renderer.summary(),
        "token": token, "notice": notice, "files_dropped": files_dropped,
        "has_required": '<span class="required">' in fields,
    }
    return render(request, "intake/form.html", ctx, status=status)


@csrf_exempt  # CSRF is checked in the view, after the size checks (a too large body gets a friendly page)
@never_cache
@require_http_methods(["GET", "POST"])
def application_form(request, key: str):
    tenant = request_tenant(request)
    service = get_active_service(tenant, key)
    if service is None or not is_public(service.current_version):
        raise Http404("Leistung nicht gefunden")
    sv = service.current_version
    if request.method == "GET":
        return _render_form(request, sv, forms.initial_state(sv.form_schema), secrets.token_urlsafe(18))

    problem = _read_body(request)
    if problem is not None:
        return problem
    rejected = CsrfViewMiddleware(lambda r: None).process_view(request, lambda r: None, (), {})
    if rejected is not None:
        return rejected
    token = request.POST.get("_token") or ""
    if not TOKEN_RE.fullmatch(token):
        token = secrets.token_urlsafe(18)
    parsed = forms.parse(sv.form_schema, request.POST)
    if parsed.action:  # add / remove a row: show the form again with everything kept
        return _render_form(request, sv, parsed.state, token)
    uploads = _uploads(request, sv)
    try:
        result = services.submit(tenant, key, parsed.data, channel="web", attachments=uploads or None,
                                    idempotency_key=f"web-{token}")
    except Invalid as e:
        errors = list(e.errors)
        if not any((x.get("pointer") or "").startswith("/attachments") for x in errors):
            try:  # report problems with the files together with those of the form fields
                check_attachments(sv, uploads)
            except Invalid as e2:
                errors += e2.errors
        if not errors:
            errors = [{"pointer": "", "message": e.detail}]
        parsed.state.errors = forms.errors_by_pointer(errors)
        return _render_form(request, sv, parsed.state, token, files_dropped=bool(uploads))
    except Conflict:
        notice = _("Dieses Formular wurde bereits mit anderen Angaben abgeschickt. Bitte prüfen Sie Ihre "
                   "Angaben und senden Sie das Formular erneut ab, um einen weiteren Antrag zu stellen.")
        return _render_form(request, sv, parsed.state, secrets.token_urlsafe(18), notice=notice,
                            files_dropped=bool(uploads))
    case = result.case
    request.session[CONFIRMATION_KEY] = {
        "service": key, "service_name": sv.name, "reference": case.reference, "access_code": result.access_code,
        "due_date": case.due_date.isoformat(), "applicant_email": case.applicant_email,
    }
    _remember(request, case.reference, result.access_code)
    return redirect("intake:confirmation", key=key)


@never_cache
def confirmation(request, key: str):
    data = request.session.get(CONFIRMATION_KEY)
    if not data or data.get("service") != key:
        return redirect("intake:form", key=key)
    due = dt.date.fromisoformat(data["due_date"])
    case = _verified_case(request, data["reference"])
    receipt = services.receipt_for(case) if case is not None else None
    return render(request, "intake/confirmation.html", {"c": data, "due_date": due, "receipt": receipt})


# --------------------------------------------------------------------------- status

def _remember(request, reference: str, code: str) -> None:
    codes = dict(request.session.get(STATUS_KEY) or {})
    codes.pop(reference, None)
    codes[reference] = code
    while len(codes) > MAX_REMEMBERED:
        codes.pop(next(iter(codes)))
    request.session[STATUS_KEY] = codes


def _verified_case(request, reference: str):
    code = (request.session.get(STATUS_KEY) or {}).get(reference)
    if not code:
        return None
    try:
        return services.case_for_applicant(request_tenant(request), reference, code)
    except NotFound:
        return None


@never_cache
@require_http_methods(["GET", "POST"])
def status_lookup(request):
    tenant = request_tenant(request)
    values = {"aktenzeichen": request.GET.get("aktenzeichen", "")[:40], "zugangscode": ""}
    errors: dict[str, str] = {}
    summary = []
    status = 200
    if request.method == "POST":
        values = {k: (request.POST.get(k) or "").strip()[:60] for k in ("aktenzeichen", "zugangscode")}
        if not values["aktenzeichen"]:
            errors["aktenzeichen"] = _("Bitte geben Sie das Aktenzeichen ein.")
        if not values["zugangscode"]:
            errors["zugangscode"] = _("Bitte geben Sie den Zugangscode ein.")
        if not errors:
            try:
                case = services.case_for_applicant(tenant, values["aktenzeichen"], values["zugangscode"],
                                          client=throttle.client_of(request))
            except NotFound:
                summary = [{"href": "#aktenzeichen", "text": NOT_FOUND_MESSAGE}]
            except throttle.TooManyAttempts as e:
                minutes = max(1, (e.retry_after + 59) // 60)
                summary = [{"href": "#aktenzeichen", "text": ngettext(
                    "Zu viele erfolglose Versuche. Bitte versuchen Sie es in %(n)d Minute erneut.",
                    "Zu viele erfolglose Versuche. Bitte versuchen Sie es in %(n)d Minuten erneut.",
                    minutes) % {"n": minutes}}]
                status = 429
            else:
                _remember(request, case.reference, values["zugangscode"])
                return redirect("intake:status", reference=case.reference)
        labels = {"aktenzeichen": _("Aktenzeichen"), "zugangscode": _("Zugangscode")}
        summary = [{"href": f"#{k}", "text": f"{labels[k]}: {m}"} for k, m in errors.items()] + summary
    shown = {k: v.replace("\x00", "") for k, v in values.items()}  # a NUL byte is no character to show back
    return render(request, "intake/status_lookup.html",
                  {"values": shown, "errors": errors, "summary": summary, "not_found": bool(summary) and not errors and status != 429},
                  status=status)


@never_cache
def status(request, reference: str):
    case = _verified_case(request, reference)
    if case is None:
        return redirect(reverse("intake:status_lookup") + f"?aktenzeichen={reference}")
    history = [
        {"at": e.at, "status_label": choice_label(CaseStatus, e.status) if e.status else "",
         "message": translated(e.message)}  # the record is German; known texts are shown translated
        for e in case.events.filter(public=True).order_by("at", "id")
    ]
    services.receipt_for(case)  # the receipt is rendered on first access, not while submitting
    documents = list(case.documents.filter(released_to_applicant=True).order_by("created_at", "id"))
    payments = case_fees(case)
    return render(request, "intake/status.html", {
        "case": case, "sv": case.service_version, "status_label": choice_label(CaseStatus, case.status),
        "history": history, "documents": documents, "payments": payments,
    })


@never_cache
def status_document(request, reference: str, doc_id: int):
    case = _verified_case(request, reference)
    if case is None:
        raise Http404("Dokument nicht gefunden")
    doc = case.documents.filter(pk=doc_id, released_to_applicant=True).first()
    if doc is None:
        raise Http404("Dokument nicht gefunden")
    return document_response(doc)
