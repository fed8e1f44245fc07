"""E-Akte: documents of a case, write-once with hash and version."""

from django.db import models
from django.utils.translation import gettext_noop as _noop  # labels stay German; web pages translate them

from rathaus.tenants.models import Tenant


class Document(models.Model):
    class Kind(models.TextChoices):
        ATTACHMENT = "attachment", _noop("Anlage")
        RECEIPT = "receipt", _noop("Eingangsbestätigung")
        NOTICE = "notice", _noop("Bescheid")
        INVOICE = "invoice", _noop("Rechnung")
        OTHER = "other", _noop("Sonstiges")

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="documents")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    file = models.FileField(max_length=300)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retention_until = models.DateField(null=True, blank=True)
    released_to_applicant = models.BooleanField(default=False)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "Dokument"
        verbose_name_plural = "Dokumente"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.title} v{self.version}"
