"""Which tenant a public request is for – the web's and the API's way.

The web asks the tenants middleware (`request.tenant`: the signed-in staff member's tenant, else the
one of the host name); the public API names it by host or by `?tenant=<slug>`.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.functional import SimpleLazyObject

from rathaus.core.errors import NotFound
from rathaus.core.web import clean_key

from .services import resolve_tenant


def request_tenant(request):
    """The web request's tenant (set by `TenantMiddleware`), 404 if there is none."""
    t = getattr(request, "tenant", None)
    if not t:
        raise Http404("Kein Mandant")
    return t._wrapped if isinstance(t, SimpleLazyObject) else t


def api_tenant(request, slug: str | None = None):
    """The tenant a public API call names by `?tenant=<slug>`, else by host name; 404 problem if none."""
    if slug is not None and clean_key(slug, 100) is None:
        raise NotFound("Mandant nicht gefunden.")
    t = resolve_tenant(request.get_host() if request else None, slug)
    if t is None:
        raise NotFound("Mandant nicht gefunden.")
    return t
