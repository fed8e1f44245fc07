from django.contrib import admin

from .models import Service, ServiceVersion


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("key", "tenant", "current_version", "active")
    list_filter = ("tenant", "active")
    fields = ("tenant", "key", "current_version", "active")
    readonly_fields = ("tenant", "key")


@admin.register(ServiceVersion)
class ServiceVersionAdmin(admin.ModelAdmin):
    """Published versions are immutable: they are loaded with `rathaus services load DIR`."""

    list_display = ("service", "version", "name", "published_at", "published_by")
    list_filter = ("service__tenant",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
