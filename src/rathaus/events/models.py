"""Audit trail (hash-chained, append-only) and the transactional outbox."""

from django.db import models

from rathaus.tenants.models import Tenant


class AuditHead(models.Model):
    """The head of a tenant's audit chain; its row is locked while an entry is appended."""

    tenant = models.OneToOneField(Tenant, on_delete=models.PROTECT, primary_key=True, related_name="audit_head")
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    # the hash before the last append: lets PostgreSQL advance the head and hand back both hashes in one
    # UPDATE (see events.services.record_change)
    prev_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self):
        return f"{self.tenant_id}: {self.seq}"


class AuditEntry(models.Model):
    # no index of its own: the unique (tenant, seq) leads with it
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="audit_entries", db_index=False)
    seq = models.BigIntegerField()
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "Protokolleintrag"
        verbose_name_plural = "Protokolleinträge"
        constraints = [models.UniqueConstraint(fields=["tenant", "seq"], name="audit_unique_seq")]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit entries are append-only.")


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it reports; published later."""

    # No FK constraint: every change writes an event, and a batch (a bank statement's status changes) writes
    # tens of thousands, each checked at COMMIT; the tenant comes from the change's own tenant-checked row.
    # no index of its own either: nothing reads the outbox by tenant (the publisher goes by published_at), and
    # every submission, task and payment writes a row
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="outbox_events", db_constraint=False,
                               db_index=False)
    type = models.CharField(max_length=100)
    aggregate_type = models.CharField(max_length=50)
    aggregate_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Ereignis (Outbox)"
        verbose_name_plural = "Ereignisse (Outbox)"
        indexes = [models.Index(fields=["published_at", "id"])]

    def __str__(self):
        return f"{self.type} {self.aggregate_type}:{self.aggregate_id}"
