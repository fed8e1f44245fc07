"""The demo logins on the staff login page (only with RATHAUS_SHOW_DEMO_LOGINS, set by `make demo`)."""

from __future__ import annotations

from django.conf import settings

from rathaus.cases.views import ROLE_LABELS
from rathaus.tenants.web import request_tenant

from .seed import DEMO_PASSWORD, USERS


def demo_logins(request) -> dict:
    if not getattr(settings, "RATHAUS_SHOW_DEMO_LOGINS", False):
        return {}

    def users():  # a callable: computed only where a template shows it (the login page)
        slug = request_tenant(request).slug
        return [{"username": u[0], "name": f"{u[1]} {u[2]}",
                 "roles": ", ".join(str(ROLE_LABELS.get(r, r)) for r in u[5])}
                for u in USERS if u[3] == slug]

    return {"demo_users": users, "demo_password": DEMO_PASSWORD}
