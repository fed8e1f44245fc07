from django.contrib import admin

from .models import ApiToken, Membership, OrgUnit, Tenant


class OrgUnitInline(admin.TabularInline):
    model = OrgUnit
    extra = 0
    fields = ("slug", "name", "parent")


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "ags", "leitweg_id", "iban")
    search_fields = ("name", "slug", "ags")
    inlines = [OrgUnitInline]


@admin.register(OrgUnit)
class OrgUnitAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "tenant", "parent")
    list_filter = ("tenant",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "org_unit", "roles")
    list_filter = ("tenant",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("hint", "user", "tenant", "name", "created_at", "revoked_at")
    readonly_fields = ("key_hash", "hint", "user", "tenant", "created_at")
    list_filter = ("tenant",)

    def has_add_permission(self, request):
        return False  # tokens are issued with `rathaus token USER` (shown once)
