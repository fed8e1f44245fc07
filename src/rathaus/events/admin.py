from django.contrib import admin

from rathaus.core.admin import ReadOnlyAdmin

from .models import AuditEntry, OutboxEvent


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "seq", "at", "actor", "action", "object_type", "object_id")
    list_filter = ("tenant", "action")
    search_fields = ("object_id", "actor")


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "id", "type", "aggregate_type", "aggregate_id", "created_at", "published_at")
    list_filter = ("tenant", "type")
