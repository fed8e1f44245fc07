"""Notices (Bescheide) and receipts (Eingangsbestätigungen): data, rendering, storage in the E-Akte.

- The notice is triggered by a BPMN service task (`spiffworkflow:serviceTaskOperator id="issue_notice"`
  with a `decision` parameter). The operator only records an effect; the effect handler runs inside the
  case's transaction (`cases.services._apply_effects_in_memory`): on approval it asks the registered
  payment provider (`notices.payments`; finance creates the receivable: Kassenzeichen, fee lines, due date)
  and renders the notice with the payment part and the GiroCode; on rejection a notice without payment
  part. The PDF/A is stored write-once in the E-Akte and released to the applicant; a public history entry
  tells the applicant.
- A template that does not compile is an administrator's error: the decision stands, the case gets an
  incident (`workflow_error` and an internal event), no notice is stored; nothing is lost and no 500.
- The receipt is rendered lazily on first access (`ensure_receipt`) so that submitting stays fast; its
  content depends only on the submission (data, attachments, received timestamp), so it is identical
  whenever it is generated. It never contains the access code.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop as _noop

from rathaus.cases.effects import register_effect
from rathaus.cases.models import Case, CaseEvent, CaseStatus, Task, TaskState
from rathaus.documents.models import Document
from rathaus.documents.services import store_document
from rathaus.events.services import record_change
from rathaus.workflow.engine import emit_effect

from . import girocode, legal
from .payments import PaymentRequest, payment_request_for
from .typst_render import PDF_STANDARD_LABEL, RenderError, render_pdf  # noqa: F401 - re-exported

log = logging.getLogger("rathaus.notices")
TEMPLATES = Path(__file__).resolve().parent / "templates"
DECISIONS = ("approve", "reject")
PRIVATE_TASK_FIELDS = {"interne_notiz"}  # internal notes never reach a document


class NoticeError(Exception):
    pass


# --------------------------------------------------------------------------- data of a notice

def tenant_block(tenant) -> dict:
    return {
        "name": tenant.name, "street": tenant.street, "postal_code": tenant.postal_code, "city": tenant.city,
        "email": tenant.email, "phone": tenant.phone, "website": tenant.website,
        "iban": tenant.iban, "bic": tenant.bic, "bank_name": tenant.bank_name,
        "land": legal.land_of(tenant.ags), "court": legal.court_of(tenant),
    }


def _get(data, ptr: str):
    node = data
    for part in [p for p in (ptr or "").split("/") if p]:
        node = node.get(part) if isinstance(node, dict) else None
    return node


_ADDRESS_KEYS = {"street": "strasse", "house_number": "hausnummer", "postal_code": "plz", "city": "ort"}


def recipient_of(form_schema: dict, data: dict, fallback_name: str = "") -> dict:
    """Addressee for the DIN 5008 address field.

    `x-applicant.address` if given – a JSON pointer to an object with strasse, hausnummer, plz, ort, or a
    mapping of those fields (or street, house_number, postal_code, city) to pointers –, else the
    `anschrift` next to the applicant's name; the name from vorname/nachname (and firma) of the
    object the `x-applicant.name` pointer lies in.
    """
    hints = form_schema.get("x-applicant") or {}
    name_ptr = hints.get("name")
    first_ptr = name_ptr[0] if isinstance(name_ptr, list) and name_ptr else name_ptr
    parent_ptr = "/".join(str(first_ptr or "").split("/")[:-1])
    person = _get(data, parent_ptr) if parent_ptr else data
    person = person if isinstance(person, dict) else {}
    name = " ".join(str(person.get(k) or "").strip() for k in ("vorname", "nachname")).strip() or fallback_name
    hint = hints.get("address")
    if isinstance(hint, dict):  # {"strasse": "/a/strasse", "plz": "/a/plz", ...} (also read by the finance app)
        addr = {_ADDRESS_KEYS.get(k, k): _get(data, v) for k, v in hint.items() if isinstance(v, str)}
    else:
        addr = _get(data, hint) if isinstance(hint, str) and hint else person.get("anschrift")
    addr = addr if isinstance(addr, dict) else {}
    lines = []
    firma = str(person.get("firma") or "").strip()
    if firma:
        lines.append(firma)
    if name:
        lines.append(name)
    street = " ".join(str(addr.get(k) or "").strip() for k in ("strasse", "hausnummer")).strip()
    return {
        "name": ("\n".join(lines)) or fallback_name, "lines": lines or [fallback_name],
        "street": street, "postal_code": str(addr.get("plz") or ""), "city": str(addr.get("ort") or ""),
    }


class _DoneTask(NamedTuple):
    name: str
    data: dict | None


def _completed_tasks(case) -> list[_DoneTask]:
    """The case's completed tasks (name and completion data), oldest first: one query, shared by reason and
    task data. Plain SQL on the task table's case index: on every notice, and the ORM's query building cost
    several times the query."""
    with connections[router.db_for_read(Task)].cursor() as cur:
        cur.execute(f"SELECT name, data FROM {Task._meta.db_table} WHERE case_id = %s AND state = %s "
                    "ORDER BY completed_at, id", [case.pk, TaskState.COMPLETED.value])
        rows = cur.fetchall()
    # JSON arrives as text (SQLite; Django's jsonb loader on PostgreSQL)
    return [_DoneTask(name, json.loads(data) if isinstance(data, str) else data) for name, data in rows]


def _task_data(case, tasks=None) -> dict:
    out = {}
    for t in _completed_tasks(case) if tasks is None else tasks:
        out[t.name] = {k: v for k, v in (t.data or {}).items() if k not in PRIVATE_TASK_FIELDS}
    return out


def _deciding_reason(case, decision: str, tasks=None) -> str:
    for t in reversed(_completed_tasks(case) if tasks is None else tasks):
        data = t.data or {}
        if data.get("decision") == decision:
            return str(data.get("reason") or "").strip()
    return ""


def _paragraphs(text) -> list[str]:
    if isinstance(text, list):
        return [str(p) for p in text if str(p).strip()]
    return [p.strip() for p in str(text or "").replace("\r\n", "\n").split("\n\n") if p.strip()]


def _money(x) -> str:
    return f"{Decimal(x):.2f}"


def payment_block(payment: PaymentRequest, *, svg: bool = True) -> dict:
    """Fee table, payment request and GiroCode of a payment request (given by finance). `svg`: also the
    GiroCode as SVG text (older templates)."""
    payee = payment.payee
    text = girocode.remittance_text(payment.kassenzeichen_display, payment.purpose)
    qr_args = {"name": payee.get("name", ""), "iban": payee.get("iban", ""), "amount": payment.amount,
               "text": text, "bic": payee.get("bic", "")}
    payload = girocode.epc_payload(**qr_args)
    matrix = girocode.qr_matrix(payload.encode("utf-8"))  # once for both pictures of the code
    return {
        "fees": [{"title": f.title, "legal_basis": f.legal_basis, "amount": _money(f.amount)} for f in payment.fees],
        "total": _money(payment.amount),
        "kassenzeichen": payment.kassenzeichen_display,
        "due_date": payment.due_date.isoformat(),
        "purpose": payment.purpose,
        "bank": {"name": payee.get("name", ""), "iban": payee.get("iban", ""), "bic": payee.get("bic", ""),
                 "bank_name": payee.get("bank_name", "")},
        "girocode_text": text,
        "girocode_payload": payload,
        "girocode_svg": girocode.matrix_svg(matrix, border=4) if svg else "",  # templates that embed the SVG
        "girocode_png": list(girocode.matrix_png(matrix, border=4)),  # bytes as a JSON array: image(bytes(...))
    }


_TYPST_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


@functools.lru_cache(maxsize=256)
def _template_reads(template: str, name: str) -> bool:
    """Whether a template mentions a data field outside its comments (a cheap, conservative check: a field
    named in a string counts too). Cached per template text: asked on every notice, and published templates
    do not change."""
    return name in template and name in _TYPST_COMMENTS.sub("", template)


def notice_data(case, decision: str, *, reasons=None, payment: PaymentRequest | None = None, now=None, tasks=None,
                template_version=None) -> dict:
    """`tasks`: the case's completed tasks if already loaded (`_completed_tasks`). `template_version`: the
    service version whose template renders the data, if not the case's (only for `girocode_svg`, which is
    filled only for templates that read it)."""
    now = now or timezone.now()
    sv = case.service_version
    tenant = case.tenant
    data = {
        "tenant": tenant_block(tenant),
        "office": sv.org_unit.name if sv.org_unit_id else "",
        "service": {"key": sv.service.key, "name": sv.name, "legal_basis": sv.definition.get("legal_basis", "")},
        "recipient": recipient_of(sv.form_schema, case.data, case.applicant_name),
        "reference": case.reference,
        "date": timezone.localtime(now).date().isoformat(),
        "received": timezone.localtime(case.created_at).date().isoformat(),
        "decision": decision,
        "reasons": _paragraphs(reasons),
        "application": case.data,
        "tasks": _task_data(case, tasks),
        "rechtsbehelf": legal.remedy_paragraphs(
            tenant, optional_objection=bool(sv.definition.get("fakultativer_widerspruch"))),
        "fees": [], "total": "0.00", "kassenzeichen": "", "due_date": "", "girocode_svg": "", "girocode_png": [],
    }
    if payment is not None:
        template = (template_version or sv).notice_template or ""
        data.update(payment_block(payment, svg=_template_reads(template, "girocode_svg")))
    return data


# --------------------------------------------------------------------------- rendering

def render_notice_pdf(service_version, data: dict, *, timestamp: dt.datetime | None = None) -> bytes:
    """The notice of a service version as PDF/A bytes (raises RenderError)."""
    return render_pdf(("notice", *service_version.cache_key), service_version.notice_template, data,
                      timestamp=timestamp)


def check_template(template_text: str, examples: list[dict], *, name: str = "notice.typ") -> list[str]:
    """Compile a package's notice template with its form examples (approve and reject) at validation.

    Returns German problem messages (empty if fine). Used by `catalog.services.read_package`.
    """
    if not (template_text or "").strip():
        return []
    problems = []
    tenant = _SampleTenant()
    key = ("check", hashlib.sha256(template_text.encode()).hexdigest())
    for i, example in enumerate(examples or [{}]):
        for decision in DECISIONS:
            data = sample_notice_data(example, decision, tenant)
            try:
                render_pdf(key, template_text, data)
            except RenderError as e:
                problems.append(f"Beispiel {i + 1} ({decision}): {e}")
                return problems
    return problems


class _SampleTenant:
    name, street, postal_code, city = "Stadt Musterstadt", "Marktplatz 1", "99999", "Musterstadt"
    email, phone, website = "rathaus@musterstadt.example", "+49 9999 123-0", "https://www.musterstadt.example"
    iban, bic, bank_name, ags = "DE02120300000000202051", "BYLADEM1001", "Sparkasse Musterstadt", "09999999"


def sample_notice_data(application: dict, decision: str, tenant=None) -> dict:
    """Notice data with made-up case and payment values, for template checks and the benchmark."""
    tenant = tenant or _SampleTenant()
    data = {
        "tenant": tenant_block(tenant), "office": "Ordnungsamt",
        "service": {"key": "beispiel", "name": "Beispielleistung", "legal_basis": ""},
        "recipient": {"name": "Erika Musterfrau", "lines": ["Erika Musterfrau"], "street": "Heidestraße 17",
                      "postal_code": "99999", "city": "Musterstadt"},
        "reference": "ABC-2026-000123", "date": "2026-05-04", "received": "2026-04-27", "decision": decision,
        "reasons": [] if decision == "approve" else ["Die Voraussetzungen liegen nicht vor (Beispielbegründung)."],
        "application": application, "tasks": {},
        "rechtsbehelf": legal.remedy_paragraphs(tenant),
        "fees": [], "total": "0.00", "kassenzeichen": "", "due_date": "", "girocode_svg": "", "girocode_png": [],
    }
    if decision == "approve":
        text = girocode.remittance_text("2026-000123-45", "Beispielleistung ABC-2026-000123")
        qr = {"name": "Stadtkasse Musterstadt", "iban": tenant.iban, "amount": Decimal("1234.50"), "text": text,
              "bic": tenant.bic}
        data.update({
            "fees": [{"title": "Verwaltungsgebühr", "legal_basis": "§ 1 Gebührensatzung", "amount": "1234.50"}],
            "total": "1234.50", "kassenzeichen": "2026-000123-45", "due_date": "2026-06-03",
            "purpose": "Beispielleistung ABC-2026-000123",
            "bank": {"name": qr["name"], "iban": tenant.iban, "bic": tenant.bic, "bank_name": tenant.bank_name},
            "girocode_text": text, "girocode_payload": girocode.epc_payload(**qr),
            "girocode_svg": girocode.payload_svg(girocode.epc_payload(**qr)),
            "girocode_png": list(girocode.payload_png(girocode.epc_payload(**qr))),
        })
    return data


# --------------------------------------------------------------------------- issuing

def issue_notice(case, decision: str, *, actor: str, now=None, reasons=None, template_version=None) -> Document:
    """Render the notice of a decided case, store it in the E-Akte and release it to the applicant.

    On approval the receivable is created first (idempotent per case) and its payment data printed.
    `template_version`: render with another version's notice.typ (re-issue after a template fix).
    Raises RenderError/NoticeError on failure (the caller decides about the incident).
    """
    if decision not in DECISIONS:
        raise NoticeError(f"issue_notice: unbekannte Entscheidung {decision!r}; erlaubt: approve, reject")
    now = now or timezone.now()
    tasks = _completed_tasks(case)
    if reasons is None:
        reasons = _deciding_reason(case, decision, tasks)
    payment = payment_request_for(case, now) if decision == "approve" else None
    data = notice_data(case, decision, reasons=reasons, payment=payment, now=now, tasks=tasks,
                       template_version=template_version)
    pdf = render_notice_pdf(template_version or case.service_version, data, timestamp=now)
    title = "Bescheid" if decision == "approve" else "Ablehnungsbescheid"
    meta = {"decision": decision, "pdf_standard": PDF_STANDARD_LABEL}
    if payment is not None:
        meta.update(kassenzeichen=payment.kassenzeichen, amount=str(payment.amount),
                    due_date=payment.due_date.isoformat())
    doc = store_document(
        tenant=case.tenant, case=case, kind=Document.Kind.NOTICE, title=title,
        filename=f"Bescheid-{case.reference}.pdf", content_type="application/pdf", content=pdf,
        actor=actor, released=True, meta=meta,
    )
    record_change(
        tenant=case.tenant, actor=actor, action="notice.issued", object_type="document", object_id=doc.pk,
        data={"case": case.reference, "decision": decision, "sha256": doc.sha256, **meta},
        event_type="notice.issued",
        event_payload={"case": case.pk, "reference": case.reference, "document": doc.pk, "decision": decision},
    )
    return doc


@transaction.atomic
def reissue_notice(case, *, actor: str, use_current_template: bool = False) -> Document:
    """After an incident (template error): issue the notice of a decided case again.

    The decision follows the case status (approved / rejected). With `use_current_template` the notice is
    rendered with the service's current version's template (the fixed one); the case keeps its version.
    A new notice document is stored; the receivable is not duplicated (idempotent per case).
    """
    case = (Case.objects.select_for_update(of=("self",))  # not the tenant's and version's rows (see complete_task)
            .select_related("service_version__service", "service_version__org_unit", "tenant").get(pk=case.pk))
    decision = {CaseStatus.APPROVED: "approve", CaseStatus.REJECTED: "reject"}.get(case.status)
    if decision is None:
        raise NoticeError(f"{case.reference}: kein Bescheid möglich, der Vorgang ist nicht entschieden ({case.status}).")
    template_version = None
    if use_current_template:
        template_version = case.service_version.service.current_version
    now = timezone.now()
    doc = issue_notice(case, decision, actor=actor, now=now, template_version=template_version)
    Case.objects.filter(pk=case.pk).update(workflow_error="")
    CaseEvent.objects.create(case=case, at=now, kind="document", public=True, actor=actor,
                             message=NOTICE_EVENTS[("approve", False)])
    return doc


# The applicant's history entries (German records; msgids, so the status page can show them translated)
NOTICE_EVENTS = {
    ("approve", False): _noop("Ihr Bescheid wurde erstellt. Sie finden ihn unter „Dokumente“."),
    ("approve", True): _noop("Ihr Bescheid wurde erstellt. Sie finden ihn unter „Dokumente“. "
                             "Bitte beachten Sie die Zahlungsaufforderung im Bescheid."),
    ("reject", False): _noop("Ihr Bescheid (Ablehnung) wurde erstellt. Sie finden ihn unter „Dokumente“."),
    ("reject", True): _noop("Ihr Bescheid (Ablehnung) wurde erstellt. Sie finden ihn unter „Dokumente“. "
                            "Bitte beachten Sie die Zahlungsaufforderung im Bescheid."),
}


def issue_notice_operator(decision: str = "approve", reason=None, **_ignored) -> dict:
    """BPMN service task operator `issue_notice`: records the effect, the case service applies it."""
    decision = str(decision)
    if decision not in DECISIONS:
        raise NoticeError(f"issue_notice: unbekannte Entscheidung {decision!r}; erlaubt: approve, reject")
    emit_effect("issue_notice", decision=decision, reason=None if reason is None else str(reason))
    return {"decision": decision}


def _on_issue_notice(case, eff, events, now) -> None:
    """Effect handler, called inside the case transaction by `cases.services`."""
    decision = eff.kwargs.get("decision", "approve")
    if case.pk is None:
        _incident(case, events, now, "Der Bescheid kann erst nach dem Eingang des Antrags erstellt werden.")
        return
    try:
        with transaction.atomic():  # savepoint: a failure leaves the decision itself intact
            doc = issue_notice(case, decision, actor="Prozess", now=now, reasons=eff.kwargs.get("reason"))
    except Exception as e:  # noqa: BLE001 - any failure is an incident for the administrators
        log.exception("notice of %s could not be issued", case.reference)
        _incident(case, events, now, f"Bescheid konnte nicht erstellt werden: {type(e).__name__}: {e}")
        return
    outcome = "approve" if decision == "approve" else "reject"
    msg = NOTICE_EVENTS[(outcome, bool(doc.meta.get("kassenzeichen")))]
    events.append(CaseEvent(case=case, at=now, kind="document", public=True, actor="Prozess", message=msg))


def _incident(case, events, now, message: str) -> None:
    message = message[:2000]
    case.workflow_error = message
    if case.pk:
        Case.objects.filter(pk=case.pk).update(workflow_error=message)
    events.append(CaseEvent(case=case if case.pk else None, at=now, kind="incident", public=False,
                            actor="Prozess", message=message))


# --------------------------------------------------------------------------- receipt

_receipt_template: dict = {}


def receipt_template() -> tuple[tuple, str]:
    if "text" not in _receipt_template:
        text = (TEMPLATES / "receipt.typ").read_text(encoding="utf-8")
        _receipt_template["key"] = ("receipt", hashlib.sha256(text.encode()).hexdigest())
        _receipt_template["text"] = text
    return _receipt_template["key"], _receipt_template["text"]


def _format_value(schema: dict, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nein"
    enum, labels = schema.get("enum"), schema.get("x-enum-labels")
    if enum and labels and value in enum and len(labels) == len(enum):
        return str(labels[enum.index(value)])
    if schema.get("format") == "date" and isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).strftime("%d.%m.%Y")
        except ValueError:
            return value
    if isinstance(value, (int, float, Decimal)):
        return str(value).replace(".", ",")
    if schema.get("contentEncoding") or schema.get("contentMediaType"):
        return "(Datei)"
    return str(value)


def summarize(schema: dict, data, depth: int = 0) -> list[dict]:
    """Rows (label, value, depth, heading) of the submitted data in form order with the field titles."""
    rows: list[dict] = []
    if not isinstance(data, dict):
        return rows
    props = schema.get("properties") or {}
    order = [k for k in (schema.get("x-order") or list(props)) if k in data]
    order += [k for k in data if k not in order]
    for key in order:
        p = props.get(key) or {}
        title = str(p.get("title") or key)
        value = data[key]
        if isinstance(value, dict):
            rows.append({"label": title, "value": "", "depth": depth, "heading": True})
            rows += summarize(p, value, depth + 1)
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            item_schema = p.get("items") or {}
            for i, item in enumerate(value, start=1):
                rows.append({"label": f"{item_schema.get('title') or title} {i}", "value": "", "depth": depth,
                             "heading": True})
                rows += summarize(item_schema, item, depth + 1)
        elif isinstance(value, list):
            item_schema = p.get("items") or {}
            rows.append({"label": title, "value": ", ".join(_format_value(item_schema, v) for v in value),
                         "depth": depth, "heading": False})
        else:
            rows.append({"label": title, "value": _format_value(p, value), "depth": depth, "heading": False})
    return rows


def receipt_data(case) -> dict:
    """Everything on the receipt, derived only from the submission (stable whenever generated)."""
    sv = case.service_version
    received = timezone.localtime(case.created_at)
    attachments = [
        {"title": d.title, "filename": d.filename, "size": d.size, "sha256": d.sha256}
        for d in case.documents.filter(kind=Document.Kind.ATTACHMENT).order_by("created_at", "id")
    ]
    return {
        "tenant": tenant_block(case.tenant),
        "office": sv.org_unit.name if sv.org_unit_id else "",
        "service": {"key": sv.service.key, "name": sv.name, "version": sv.version},
        "recipient": recipient_of(sv.form_schema, case.data, case.applicant_name),
        "reference": case.reference,
        "received_date": received.date().isoformat(),
        "received_time": received.strftime("%H:%M"),
        "due_date": case.due_date.isoformat(),
        "channel": case.channel,
        "summary": summarize(sv.form_schema, case.data),
        "attachments": attachments,
    }


def render_receipt_pdf(data: dict, *, timestamp: dt.datetime | None = None) -> bytes:
    key, text = receipt_template()
    return render_pdf(key, text, data, timestamp=timestamp)


def ensure_receipt(case) -> Document:
    """The case's Eingangsbestätigung; rendered and stored on first call, exactly once."""
    existing = case.documents.filter(kind=Document.Kind.RECEIPT).order_by("id").first()
    if existing is not None:
        return existing
    pdf = render_receipt_pdf(receipt_data(case), timestamp=case.created_at)  # before the lock
    with transaction.atomic():
        Case.objects.select_for_update().filter(pk=case.pk).values_list("pk", flat=True).first()
        existing = case.documents.filter(kind=Document.Kind.RECEIPT).order_by("id").first()
        if existing is not None:
            return existing
        return store_document(
            tenant=case.tenant, case=case, kind=Document.Kind.RECEIPT, title="Eingangsbestätigung",
            filename=f"Eingangsbestaetigung-{case.reference}.pdf", content_type="application/pdf", content=pdf,
            actor="Prozess", released=True,
        )


def ensure_receipt_quietly(case) -> Document | None:
    """For pages and API views: a failing receipt must never break the status page."""
    try:
        return ensure_receipt(case)
    except Exception:  # noqa: BLE001
        log.exception("receipt of %s could not be created", getattr(case, "reference", "?"))
        return None


register_effect("issue_notice")(_on_issue_notice)
