"""Cases (Vorgänge), their public history and the user tasks of their process."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_noop as _noop  # labels stay German; web pages translate them

from rathaus.catalog.models import ServiceVersion
from rathaus.core.fields import JSONTextField
from rathaus.tenants.models import OrgUnit, Tenant


class CaseStatus(models.TextChoices):
    RECEIVED = "received", _noop("Eingegangen")
    IN_PROGRESS = "in_progress", _noop("In Bearbeitung")
    WAITING_FOR_APPLICANT = "waiting_for_applicant", _noop("Rückfrage an Antragsteller")
    APPROVED = "approved", _noop("Bewilligt")
    REJECTED = "rejected", _noop("Abgelehnt")
    WITHDRAWN = "withdrawn", _noop("Zurückgezogen")
    CLOSED = "closed", _noop("Abgeschlossen")


class Case(models.Model):
    # no index of its own: (tenant, reference) and (tenant, status, created_at) lead with it
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="cases", db_index=False)
    service_version = models.ForeignKey(ServiceVersion, on_delete=models.PROTECT, related_name="cases")
    # the unit the case belongs to (need to know: cases.services.visible_cases): the service's unit, for an
    # inbound invoice's approval the unit its Leitweg-ID routes to; no index: read together with the tenant
    org_unit = models.ForeignKey("tenants.OrgUnit", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", db_index=False, verbose_name="Organisationseinheit")
    reference = models.CharField("Aktenzeichen", max_length=40)
    access_salt = models.CharField(max_length=32)  # access code = HMAC(SECRET_KEY, salt), see services
    status = models.CharField(max_length=30, choices=CaseStatus.choices, default=CaseStatus.RECEIVED)
    data = models.JSONField()
    applicant_name = models.CharField(max_length=300, blank=True)
    applicant_email = models.CharField(max_length=254, blank=True)
    channel = models.CharField(max_length=10, default="api")  # web | api
    due_date = models.DateField("Bearbeitungsfrist")
    workflow_state = JSONTextField()  # SpiffWorkflow's serialized state: only the engine reads it
    workflow_completed = models.BooleanField(default=False)
    workflow_error = models.TextField(blank=True)  # incident: the process could not run; case kept
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)  # optimistic lock for workflow updates

    class Meta:
        verbose_name = "Vorgang"
        verbose_name_plural = "Vorgänge"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="case_unique_reference"),
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                name="case_unique_idempotency_key",
                condition=models.Q(idempotency_key__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self):
        return self.reference

    @property
    def service_key(self) -> str:
        return self.service_version.service.key

    def get_status_display_de(self) -> str:
        return CaseStatus(self.status).label


class CaseEvent(models.Model):
    """History of a case. `public` entries are shown to the applicant."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=30)  # status | task | note | document
    status = models.CharField(max_length=30, blank=True)
    message = models.TextField(blank=True)
    public = models.BooleanField(default=False)
    actor = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.status} {self.message[:40]}"


class TaskState(models.TextChoices):
    OPEN = "open", _noop("Offen")
    COMPLETED = "completed", _noop("Erledigt")
    CANCELLED = "cancelled", _noop("Abgebrochen")


class Task(models.Model):
    # Indexes cost every submission an insert each: the tenant is covered by (tenant, state, role); who
    # claimed or completed a task is indexed only where set (a new task has neither).
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="tasks", db_index=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="tasks")
    spiff_id = models.CharField(max_length=36)
    name = models.CharField(max_length=100)  # BPMN id
    title = models.CharField(max_length=300)
    role = models.CharField(max_length=20)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, null=True, blank=True)
    form_schema = models.JSONField()
    four_eyes = models.CharField(max_length=100, blank=True)
    due_at = models.DateTimeField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    state = models.CharField(max_length=20, choices=TaskState.choices, default=TaskState.OPEN)
    data = models.JSONField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "Aufgabe"
        verbose_name_plural = "Aufgaben"
        indexes = [
            models.Index(fields=["tenant", "state", "role"]),
            models.Index(fields=["assignee"], condition=models.Q(assignee__isnull=False), name="task_assignee_set"),
            models.Index(fields=["completed_by"], condition=models.Q(completed_by__isnull=False),
                         name="task_completed_by_set"),
        ]
        ordering = ["due_at", "id"]

    def __str__(self):
        return f"{self.title} ({self.case.reference})"
