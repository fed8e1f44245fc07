"""The service catalog: services as versioned declarative packages."""

from django.db import models

from rathaus.tenants.models import OrgUnit, Tenant


class Service(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="services")
    key = models.SlugField(max_length=60)
    current_version = models.ForeignKey(
        "ServiceVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Leistung"
        verbose_name_plural = "Leistungen"
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="service_unique_key")]
        ordering = ["key"]

    def __str__(self):
        return self.key


class ServiceVersion(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=40)
    name = models.CharField(max_length=300)
    name_en = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    leika = models.CharField(max_length=14, blank=True)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, null=True, blank=True)
    processing_days = models.PositiveIntegerField(default=30)
    retention_years = models.PositiveIntegerField(default=10)
    reference_prefix = models.CharField(max_length=10)
    definition = models.JSONField()  # service.yaml as parsed
    form_schema = models.JSONField()
    task_schemas = models.JSONField(default=dict)  # relative path -> schema
    process_id = models.CharField(max_length=100)
    bpmn_xml = models.TextField()
    spec_state = models.JSONField()  # serialized SpiffWorkflow spec (parsed once at publication)
    notice_template = models.TextField(blank=True)
    checksum = models.CharField(max_length=64)
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "Leistungsversion"
        verbose_name_plural = "Leistungsversionen"
        constraints = [models.UniqueConstraint(fields=["service", "version"], name="serviceversion_unique")]

    def __str__(self):
        return f"{self.service.key} {self.version}"

    @property
    def cache_key(self) -> tuple:
        """Key for per-process caches (parsed specs, schema validators): id plus content checksum."""
        return (self.pk, self.checksum)

    @property
    def attachments(self) -> list[dict]:
        return self.definition.get("attachments") or []
