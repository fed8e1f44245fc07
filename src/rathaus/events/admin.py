from django.contrib import admin

from .models import AuditEntry, OutboxEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "seq", "at", "actor", "action", "object_type", "object_id")
    list_filter = ("tenant", "action")
    search_fields = ("object_id", "actor")


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "id", "type", "aggregate_type", "aggregate_id", "created_at", "published_at")
    list_filter = ("tenant", "type")
