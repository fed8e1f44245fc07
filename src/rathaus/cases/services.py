"""Case operations: submit an application, work its tasks, apply the process's effects.

Every operation that changes state runs in one transaction that also writes the audit entry and
the outbox event (`record_change`). The workflow engine runs outside locks where it can: a new
case's process is started before the transaction, so the per-tenant reference counter and the
audit head are locked only for the few inserts that follow.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_noop as _noop

from rathaus.catalog.services import get_active_service, is_public
from rathaus.core import schema as schemas
from rathaus.core.bulk import Insert, insert_new
from rathaus.core.errors import Conflict, Forbidden, Invalid, NotFound
from rathaus.core.jsonpointer import resolve as resolve_pointer
from rathaus.documents.services import check_attachments, store_attachments
from rathaus.events.services import change_rows, pg_append_ctes, placeholder, record_change
from rathaus.tenants import numbering
from rathaus.tenants.models import Membership, Tenant
from rathaus.tenants.services import covers_unit, org_unit_id, readable_units, units_within
from rathaus.workflow import engine

from .models import Case, CaseEvent, CaseStatus, Task, TaskState

log = logging.getLogger("rathaus.cases")


# --------------------------------------------------------------------------- submission

def _case_ctes(case: Case, events: list[CaseEvent], tasks: list[Task], case_exprs: dict | None = None
               ) -> tuple[str, list]:
    """PostgreSQL writable CTEs for a new case: ``c`` (the case, RETURNING id; `case_exprs` as in
    `Insert.sql`), ``case_events`` and ``case_tasks`` (pointing at it), with their parameters."""
    ci, ei, ti = Insert.for_model(Case), Insert.for_model(CaseEvent), Insert.for_model(Task)
    ref = {"case_id": "(SELECT id FROM c)"}
    sql = f"c AS ({ci.sql(1, connection, exprs=case_exprs)})"
    params = ci.params(ci.rows_of([case]), connection, skip=case_exprs or ())
    for name, ins, objs in (("case_events", ei, events), ("case_tasks", ti, tasks)):
        if objs:
            sql += f", {name} AS ({ins.sql(len(objs), connection, returning=False, exprs=ref)})"
            params += ins.params(ins.rows_of(objs), connection, skip=ref)
    return sql, params


def _adopt_case(case: Case, case_id: int, events: list[CaseEvent], tasks: list[Task]) -> None:
    Insert.for_model(Case).adopt([case], [case_id], connection)
    for obj in (*events, *tasks):
        obj.case = case


def _insert_case(case: Case, events: list[CaseEvent], tasks: list[Task]) -> None:
    """A new case (with a placeholder reference, see `_assign_reference`), its history and first tasks; on
    PostgreSQL in one statement (writable CTE)."""
    if connection.vendor != "postgresql":
        insert_new([case])
        _adopt_case(case, case.pk, events, tasks)
        insert_new(events)
        insert_new(tasks)
        return
    sql, params = _case_ctes(case, events, tasks)
    with connection.cursor() as cur:
        cur.execute(f"WITH {sql} SELECT id FROM c", params)
        _adopt_case(case, cur.fetchone()[0], events, tasks)


def _insert_submission_pg(case: Case, events: list[CaseEvent], tasks: list[Task], prefix: str, year: int, *,
                          actor: str, audit_data: dict, service_key: str) -> None:
    """PostgreSQL, one statement: the next Aktenzeichen (counter upsert), the case with its history and first
    tasks, the audit entry (the database computes its chain hash, see events.services.pg_append_ctes) and the
    outbox event; the entry and the event name the case id and Aktenzeichen produced in the same statement."""
    case_sql, case_params = _case_ctes(case, events, tasks, case_exprs={"reference": "(SELECT reference FROM n)"})
    fields, event = change_rows(
        case.tenant_id, actor=actor, action="case.submitted", object_type="case", object_id=placeholder("case_id"),
        data={"reference": placeholder("reference"), **audit_data}, event_type="case.submitted",
        event_payload={"case": placeholder("case"), "reference": placeholder("reference"), "service": service_key,
                       "status": case.status})
    audit_sql, audit_params = pg_append_ctes(case.tenant_id, fields, event, splices={
        "reference": "(SELECT reference FROM n)", "case": "(SELECT id FROM c)", "case_id": "(SELECT id::text FROM c)"})
    with connection.cursor() as cur:
        cur.execute(f"WITH n AS ({numbering.PG_UPSERT_NEXT}), {case_sql}, {audit_sql} SELECT c.id, n.value FROM c, n",
                    [case.tenant_id, prefix, year, f"{prefix}-{year}-", *case_params, *audit_params])
        case_id, number = cur.fetchone()
    _adopt_case(case, case_id, events, tasks)
    case.reference = numbering.format_reference(prefix, year, int(number))


_ASSIGN_REFERENCE_PG = (
    f"WITH n AS ({numbering.PG_UPSERT_NEXT}) UPDATE {Case._meta.db_table} SET reference = n.reference FROM n "
    "WHERE id = %s RETURNING n.value"
)


def _assign_reference(case: Case, prefix: str, year: int) -> str:
    """Take the next Aktenzeichen for a case inserted in this transaction: the per-tenant counter row stays
    locked until COMMIT, so this comes last (the case row is written a second time for it, which is cheaper
    than holding the lock through the case's insert). On PostgreSQL counter (upsert: the year's first case
    creates it) and case row in one statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_ASSIGN_REFERENCE_PG, [case.tenant_id, prefix, year, f"{prefix}-{year}-", case.pk])
            case.reference = numbering.format_reference(prefix, year, int(cur.fetchone()[0]))
        return case.reference
    number = numbering.next_number(case.tenant_id, prefix, year)  # also creates the year's counter
    case.reference = numbering.format_reference(prefix, year, number)
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {Case._meta.db_table} SET reference = %s WHERE id = %s", [case.reference, case.pk])
    return case.reference


@dataclass
class SubmissionResult:
    case: Case
    created: bool


def _fingerprint(service_key: str, data) -> str:
    return hashlib.sha256(
        json.dumps({"service": service_key, "data": data}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def applicant_of(form_schema: dict, data: dict) -> tuple[str, str]:
    hints = form_schema.get("x-applicant") or {}
    name = hints.get("name")
    parts = [name] if isinstance(name, str) else list(name or [])
    values = [str(resolve_pointer(data, p) or "").strip() for p in parts]
    email = resolve_pointer(data, hints.get("email", "")) or ""
    return " ".join(v for v in values if v)[:300], str(email)[:254]


_IDEMPOTENCY_LOOKUP = f"SELECT id FROM {Case._meta.db_table} WHERE tenant_id = %s AND idempotency_key = %s"


def _replay(tenant: Tenant, idempotency_key: str, fingerprint: str) -> SubmissionResult | None:
    # Asked before every submission with a key (each e-invoice's case has one): plain SQL for the usual
    # answer "no such case yet", the ORM only for a replay.
    with connection.cursor() as cur:
        cur.execute(_IDEMPOTENCY_LOOKUP, [tenant.pk, idempotency_key])
        row = cur.fetchone()
    if row is None:
        return None
    case = Case.objects.get(pk=row[0])
    if case.request_fingerprint != fingerprint:
        raise Conflict(
            "Dieser Idempotency-Key wurde bereits für einen anderen Antrag verwendet.",
            type="https://rathaus.example/probleme/idempotency-key-wiederverwendet",
        )
    return SubmissionResult(case, False)


def submit_application(
    tenant: Tenant,
    service_key: str,
    data,
    *,
    idempotency_key: str | None = None,
    channel: str = "api",
    attachments: list | None = None,
    now: dt.datetime | None = None,
    savepoint: bool = True,
    org_unit_id: int | None = None,
) -> SubmissionResult:
    """Validate an application, open its case and start its process (one transaction).

    `org_unit_id`: the unit the case belongs to if not the service's (an inbound invoice's approval belongs to
    the unit its Leitweg-ID routes to); it decides who may read the case (`visible_cases`).

    Inside a caller's transaction the inserts run in a savepoint, so a caller may catch a failure and go on;
    `savepoint=False` spares the two round trips for callers that let every failure end their transaction
    (the e-invoice receipt: a conflict there rolls back the whole step)."""
    service = get_active_service(tenant, service_key)
    if service is None or (channel in ("web", "api") and not is_public(service.current_version)):
        raise NotFound(f"Die Leistung „{service_key}“ gibt es nicht.")
    sv = service.current_version
    if not isinstance(data, dict):
        raise Invalid(errors=[{"pointer": "/data", "message": "Erwartet wird ein JSON-Objekt.", "field": ""}])
    schemas.check_json_value(data, prefix="/data")  # NUL, nesting: same rules for web and API
    errors = schemas.validate(sv.form_schema, data, prefix="/data", cache_key=("form", *sv.cache_key))
    if errors:
        raise Invalid("Der Antrag enthält Fehler. Bitte korrigieren Sie die markierten Angaben.", errors=errors)
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > 200:
            raise Invalid("Idempotency-Key: 1 bis 200 Zeichen.")
    fingerprint = _fingerprint(service_key, data)
    if idempotency_key:
        replay = _replay(tenant, idempotency_key, fingerprint)
        if replay:
            return replay
    if attachments:
        check_attachments(sv, attachments)

    # Run the process up to its first wait state before taking any lock. If the process itself is
    # broken (an administrator's error), the application is still accepted and kept as an incident.
    try:
        result = engine.start_workflow(sv.cache_key, sv.spec_state, {"application": data})
        workflow_error = ""
    except engine.WorkflowError as e:
        log.error("process of %s %s failed on start: %s", service_key, sv.version, e)
        result = engine.RunResult(state={})
        workflow_error = str(e)[:2000]
    now = now or timezone.now()
    local_now = timezone.localtime(now)
    applicant_name, applicant_email = applicant_of(sv.form_schema, data)
    salt = secrets.token_hex(16)
    case = Case(
        tenant=tenant,
        service_version=sv,
        org_unit_id=org_unit_id or sv.org_unit_id,
        reference=f"~{salt}",  # placeholder until the counter is taken (_assign_reference)
        access_salt=salt,
        status=CaseStatus.RECEIVED,
        data=data,
        applicant_name=applicant_name,
        applicant_email=applicant_email,
        channel=channel,
        due_date=local_now.date() + dt.timedelta(days=sv.processing_days),
        workflow_state=result.state,
        workflow_completed=result.completed,
        workflow_error=workflow_error,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
        created_at=now,
        updated_at=now,
    )
    events = [CaseEvent(at=now, kind="status", status=CaseStatus.RECEIVED, public=True,
                        message=_noop("Ihr Antrag ist eingegangen."),  # a msgid: the status page translates
                        actor="Antragsteller")]
    if workflow_error:
        events.append(CaseEvent(at=now, kind="incident", public=False, actor="Prozess",
                                message=f"Prozessfehler beim Start: {workflow_error}"))
    _apply_effects_in_memory(case, result.effects, events, now, actor="Prozess")
    tasks = _new_tasks(case, result, now)
    actor = "Antragsteller" if channel == "web" else "api"
    audit_data = {"service": service_key, "version": sv.version, "channel": channel}
    one_statement = connection.vendor == "postgresql" and not attachments
    try:
        if one_statement:
            # PostgreSQL: the whole submission is one statement, so it needs no transaction block of its own
            # (a savepoint only inside a caller's transaction): the tenant's hot rows are locked only while it
            # runs and commits.
            with (transaction.atomic(savepoint=savepoint) if connection.in_atomic_block
                  else contextlib.nullcontext()):
                _insert_submission_pg(case, events, tasks, sv.reference_prefix, local_now.year, actor=actor,
                                      audit_data=audit_data, service_key=service_key)
        else:
            with transaction.atomic(savepoint=savepoint):
                _insert_case(case, events, tasks)
                if attachments:
                    store_attachments(case, attachments, actor="Antragsteller")
                # The tenant's two hot rows last: from here to COMMIT every other submission of the tenant waits.
                reference = _assign_reference(case, sv.reference_prefix, local_now.year)
                record_change(
                    tenant=tenant, actor=actor, action="case.submitted", object_type="case", object_id=case.pk,
                    data={"reference": reference, **audit_data}, event_type="case.submitted",
                    event_payload={"case": case.pk, "reference": reference, "service": service_key,
                                   "status": case.status},
                )
    except IntegrityError:
        if idempotency_key:
            replay = _replay(tenant, idempotency_key, fingerprint)
            if replay:
                return replay
        raise
    return SubmissionResult(case, True)


# --------------------------------------------------------------------------- effects & tasks

def _apply_effects_in_memory(case: Case, effects, events: list[CaseEvent], now, actor: str) -> list[str]:
    changed = []
    for eff in effects:
        if eff.name == "set_status":
            status = eff.args[0]
            note = eff.kwargs.get("note") or ""
            if status != case.status:
                case.status = status
                changed.append(status)
                if status in (CaseStatus.APPROVED, CaseStatus.REJECTED, CaseStatus.CLOSED, CaseStatus.WITHDRAWN):
                    case.closed_at = case.closed_at or now
                events.append(CaseEvent(case=case if case.pk else None, at=now, kind="status", status=status,
                                        public=True, message=note or CaseStatus(status).label, actor=actor))
        else:
            from .effects import effect_handlers

            handler = effect_handlers.get(eff.name)
            if handler is None:
                raise engine.WorkflowError(f"Unbekannter Prozessschritt {eff.name!r}")
            handler(case, eff, events, now)
    return changed


def _sync_tasks(case: Case, result: engine.RunResult, now, existing_open: list[Task]) -> list[Task]:
    """Create Task rows for newly ready user tasks; cancel open rows whose Spiff task is gone."""
    ready_ids = {r.id for r in result.ready}
    for t in existing_open:
        if t.spiff_id not in ready_ids:
            t.state = TaskState.CANCELLED
            t.save(update_fields=["state"])
    return insert_new(_new_tasks(case, result, now, existing_open))


def _new_tasks(case: Case, result: engine.RunResult, now, existing_open: list[Task] = ()) -> list[Task]:
    """Unsaved Task rows for the process's ready user tasks that have none yet."""
    open_by_spiff = {t.spiff_id: t for t in existing_open}
    sv = case.service_version
    new = []
    for r in result.ready:
        if r.id in open_by_spiff:
            continue
        props = r.properties
        form_rel = props.get("form", "")
        due_days = int(props["due_days"]) if str(props.get("due_days", "")).isdigit() else None
        due_at = (now + dt.timedelta(days=due_days)) if due_days else timezone.make_aware(
            dt.datetime.combine(case.due_date, dt.time(16, 0))
        )
        unit_ref = props.get("org_unit")
        if unit_ref and unit_ref.startswith("/"):  # a JSON pointer into the case data (e.g. invoice routing)
            unit_ref = str(resolve_pointer(case.data, unit_ref) or "")
        unit = org_unit_id(case.tenant_id, unit_ref) or sv.org_unit_id
        new.append(Task(
            tenant_id=case.tenant_id, case=case, spiff_id=r.id, name=r.name, title=r.title,
            role=props.get("role", "clerk"), org_unit_id=unit,
            form_schema=sv.task_schemas.get(form_rel) or {"type": "object"},
            four_eyes=props.get("four_eyes", ""), due_at=due_at, created_at=now,
        ))
    return new


# --------------------------------------------------------------------------- task work

def _check_may_work(membership: Membership, task: Task) -> None:
    if task.role not in membership.roles:
        raise Forbidden(f"Diese Aufgabe erfordert die Rolle „{task.role}“.")
    if not covers_unit(membership, task.org_unit_id):
        raise Forbidden("Diese Aufgabe gehört zu einer anderen Organisationseinheit.")
    if task.four_eyes:
        done_by_me = Task.objects.filter(
            case_id=task.case_id, four_eyes=task.four_eyes, state=TaskState.COMPLETED,
            completed_by_id=membership.user_id,
        ).exclude(pk=task.pk).exists()
        if done_by_me:
            raise Forbidden(
                "Vier-Augen-Prinzip: Sie haben in diesem Vorgang bereits einen zugehörigen Schritt erledigt; "
                "diese Aufgabe muss eine andere Person übernehmen.",
                type="https://rathaus.example/probleme/vier-augen-prinzip",
            )


def _get_task_for_update(membership: Membership, task_id: int) -> Task:
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("case")  # not the assignee: re-read fresh after the row lock
        .filter(pk=task_id, tenant_id=membership.tenant_id)
        .first()
    )
    if task is None:
        raise NotFound("Aufgabe nicht gefunden.")
    return task


def _actor(membership: Membership) -> str:
    return membership.user.get_username()


@transaction.atomic
def claim_task(membership: Membership, task_id: int) -> Task:
    task = _get_task_for_update(membership, task_id)
    if task.state != TaskState.OPEN:
        raise Conflict("Die Aufgabe ist bereits erledigt.")
    _check_may_work(membership, task)
    if task.assignee_id and task.assignee_id != membership.user_id:
        raise Conflict(f"Die Aufgabe wird bereits von {task.assignee.get_username()} bearbeitet.")
    if task.assignee_id != membership.user_id:
        task.assignee_id = membership.user_id
        task.save(update_fields=["assignee"])
        record_change(tenant=membership.tenant, actor=_actor(membership), action="task.claimed",
                      object_type="task", object_id=task.pk, data={"case": task.case.reference, "task": task.name},
                      event_type="task.claimed", event_payload={"task": task.pk, "case": task.case_id})
    return task


@transaction.atomic
def release_task(membership: Membership, task_id: int) -> Task:
    task = _get_task_for_update(membership, task_id)
    if task.state != TaskState.OPEN:
        raise Conflict("Die Aufgabe ist bereits erledigt.")
    if task.assignee_id is None:
        raise Conflict("Die Aufgabe ist niemandem zugewiesen.")
    if task.assignee_id != membership.user_id and "approver" not in membership.roles:
        raise Conflict(f"Die Aufgabe wird von {task.assignee.get_username()} bearbeitet.")
    task.assignee = None
    task.save(update_fields=["assignee"])
    record_change(tenant=membership.tenant, actor=_actor(membership), action="task.released",
                  object_type="task", object_id=task.pk, data={"case": task.case.reference, "task": task.name},
                  event_type="task.released", event_payload={"task": task.pk, "case": task.case_id})
    return task


@transaction.atomic
def complete_task(membership: Membership, task_id: int, data) -> Task:
    task = _get_task_for_update(membership, task_id)
    if task.state != TaskState.OPEN:
        raise Conflict("Die Aufgabe ist bereits erledigt.")
    _check_may_work(membership, task)
    if task.assignee_id and task.assignee_id != membership.user_id:
        raise Conflict(f"Die Aufgabe wird von {task.assignee.get_username()} bearbeitet.")
    if not isinstance(data, dict):
        raise Invalid(errors=[{"pointer": "/data", "message": "Erwartet wird ein JSON-Objekt.", "field": ""}])
    # Lock the case row only (OF self): a plain FOR UPDATE with joins would lock the service version and
    # tenant rows too, and every new case of that service (its FK check takes a KEY SHARE lock on them) would
    # wait for this transaction, notice rendering included. Tenant, service and unit are read for the notice.
    case = (Case.objects.select_for_update(of=("self",))
            .select_related("service_version__service", "service_version__org_unit", "tenant")
            .get(pk=task.case_id))
    sv = case.service_version
    errors = schemas.validate(task.form_schema, data, prefix="/data", cache_key=("task", *sv.cache_key, task.name))
    if errors:
        raise Invalid("Die Eingaben sind unvollständig oder fehlerhaft.", errors=errors)
    try:
        result = engine.complete_user_task(sv.cache_key, sv.spec_state, case.workflow_state, task.spiff_id, data)
    except engine.WorkflowError as e:
        raise Conflict(f"Der Prozess konnte nicht fortgesetzt werden: {e}") from e
    now = timezone.now()
    task.state = TaskState.COMPLETED
    task.data = data
    task.assignee_id = membership.user_id
    task.completed_by_id = membership.user_id
    task.completed_at = now
    task.save(update_fields=["state", "data", "assignee", "completed_by", "completed_at"])
    actor = _actor(membership)
    events = [CaseEvent(case=case, at=now, kind="task", public=False, actor=actor,
                        message=f"Aufgabe „{task.title}“ erledigt"
                        + (f": {_decision_label(data)}" if "decision" in data else ""))]
    old_status = case.status
    _apply_effects_in_memory(case, result.effects, events, now, actor=actor)
    case.workflow_state = result.state
    case.workflow_completed = result.completed
    case.updated_at = now
    case.version += 1
    case.save(update_fields=["status", "workflow_state", "workflow_completed", "updated_at", "closed_at", "version"])
    for e in events:
        e.case = case
    CaseEvent.objects.bulk_create(events)
    others = list(Task.objects.filter(case=case, state=TaskState.OPEN).exclude(pk=task.pk))
    _sync_tasks(case, result, now, existing_open=others)
    record_change(
        tenant=membership.tenant, actor=actor, action="task.completed", object_type="task", object_id=task.pk,
        data={"case": case.reference, "task": task.name, "data": data},
        event_type="task.completed",
        event_payload={"task": task.pk, "case": case.pk, "reference": case.reference, "name": task.name},
    )
    if case.status != old_status:
        record_change(
            tenant=membership.tenant, actor=actor, action="case.status_changed", object_type="case",
            object_id=case.pk, data={"reference": case.reference, "from": old_status, "to": case.status},
            event_type="case.status_changed",
            event_payload={"case": case.pk, "reference": case.reference, "from": old_status, "to": case.status},
        )
    return task


def task_prefill(task: Task) -> dict | None:
    """Initial values of a task form from its schema's `x-prefill`: property -> JSON pointers into
    {"application": case data, "tasks": {task name: completion data}}; the first pointer with a value wins."""
    spec = (task.form_schema or {}).get("x-prefill")
    if not isinstance(spec, dict):
        return None
    done = {t.name: t.data for t in Task.objects.filter(case_id=task.case_id, state=TaskState.COMPLETED)
            .order_by("completed_at", "id").only("name", "data")}
    source = {"application": task.case.data, "tasks": done}
    out = {}
    for prop, pointers in spec.items():
        for ptr in [pointers] if isinstance(pointers, str) else list(pointers or []):
            value = resolve_pointer(source, ptr)
            if value is not None:
                out[prop] = value
                break
    return out or None


def _decision_label(data: dict) -> str:
    return {"approve": "bewilligen", "reject": "ablehnen"}.get(data.get("decision"), str(data.get("decision")))


# --------------------------------------------------------------------------- queries

def workable_tasks(membership: Membership, case_id: int | None = None):
    """Open tasks the member may work on: role fits, unit fits, free or own, four eyes respected."""
    qs = Task.objects.filter(tenant_id=membership.tenant_id, state=TaskState.OPEN, role__in=membership.roles)
    units = units_within(membership.tenant_id, membership.org_unit_id)
    if units is not None:
        qs = qs.filter(Q(org_unit_id__in=units) | Q(org_unit__isnull=True))
    qs = qs.filter(Q(assignee__isnull=True) | Q(assignee_id=membership.user_id))
    if case_id is not None:
        qs = qs.filter(case_id=case_id)
    blocked = Task.objects.filter(
        tenant_id=membership.tenant_id, state=TaskState.COMPLETED, completed_by_id=membership.user_id
    ).exclude(four_eyes="").order_by().values_list("case_id", "four_eyes")
    blocked = set(blocked)
    tasks = list(qs.select_related("case", "assignee", "org_unit").order_by("due_at", "id"))
    return [t for t in tasks if not (t.four_eyes and (t.case_id, t.four_eyes) in blocked)]


def visible_cases(membership: Membership):
    """The cases of the member's tenant the member may read (need to know): all of them for admin, treasury
    and accounting and for members without an org unit; for clerks and approvers of a unit the cases that
    belong to that unit or a unit below it (`Case.org_unit`) or to no unit, and cases with a task the member
    may work on (routed to such a unit, or to no unit for one of the member's roles; e.g. the Tiefbauamt's
    statement on a Sondernutzung). Other cases answer 404, as cases of other tenants do."""
    qs = Case.objects.filter(tenant_id=membership.tenant_id)
    units = readable_units(membership)
    if units is None:
        return qs
    routed_here = Task.objects.filter(case_id=OuterRef("pk")).filter(
        Q(org_unit_id__in=units) | Q(org_unit__isnull=True, role__in=membership.roles))
    return qs.filter(Q(org_unit_id__in=units) | Q(org_unit__isnull=True) | Exists(routed_here))


def may_read_case(membership: Membership, case_id: int) -> bool:
    """Whether the member may read the case (need to know, `visible_cases`)."""
    return visible_cases(membership).filter(pk=case_id).exists()


def cases_for(membership: Membership, status: str | None = None, service: str | None = None):
    qs = visible_cases(membership).select_related("service_version", "service_version__service")
    if status:
        qs = qs.filter(status=status)
    if service:
        qs = qs.filter(service_version__service__key=service)
    return qs.order_by("-created_at", "-id")


def get_case(membership: Membership, case_id: int) -> Case:
    case = (
        visible_cases(membership).filter(pk=case_id)
        .select_related("service_version", "service_version__service")
        .first()
    )
    if case is None:
        raise NotFound("Vorgang nicht gefunden.")
    return case
