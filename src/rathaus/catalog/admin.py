from django.contrib import admin

from rathaus.core.admin import ReadOnlyAdmin

from .models import Service, ServiceVersion


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("key", "tenant", "current_version", "active")
    list_filter = ("tenant", "active")
    fields = ("tenant", "key", "current_version", "active")
    readonly_fields = ("tenant", "key")


@admin.register(ServiceVersion)
class ServiceVersionAdmin(ReadOnlyAdmin):
    """Published versions are immutable: they are loaded with `rathaus services load DIR`."""

    list_display = ("service", "version", "name", "published_at", "published_by")
    list_filter = ("service__tenant",)
