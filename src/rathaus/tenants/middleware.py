"""Sets request.tenant (and request.membership for signed-in staff)."""

from django.utils.functional import SimpleLazyObject

from .services import resolve_tenant


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            request.tenant = SimpleLazyObject(lambda: _tenant(request))
        return self.get_response(request)


def _tenant(request):
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        from .models import Membership

        slug = request.session.get("tenant")
        qs = Membership.objects.filter(user=user).select_related("tenant", "org_unit")
        m = (qs.filter(tenant__slug=slug).first() if slug else None) or qs.order_by("id").first()
        if m is not None:
            request.membership = m
            return m.tenant
    return resolve_tenant(request.get_host())
