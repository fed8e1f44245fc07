from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from rathaus.cases.api import router as cases_router
from rathaus.catalog.api import router as catalog_router
from rathaus.core.api import api, problem
from rathaus.core.health import router as health_router
from rathaus.documents.api import router as documents_router
from rathaus.einvoice.api import router as einvoice_router
from rathaus.einvoice.api_inbox import router as einvoice_inbox_router
from rathaus.finance.api import router as finance_router
from rathaus.intake.api import router as intake_router
from rathaus.ledger.api import router as ledger_router
from rathaus.webhooks.api import router as webhooks_router

api.add_router("/", health_router)
api.add_router("/", catalog_router)
api.add_router("/", intake_router)
api.add_router("/", cases_router)
api.add_router("/", documents_router)
api.add_router("/", finance_router)
api.add_router("/", einvoice_inbox_router)
api.add_router("/", ledger_router)
api.add_router("/", einvoice_router)
api.add_router("/", webhooks_router)

admin.site.site_header = _("rathaus – Administration")
admin.site.site_title = "rathaus"
admin.site.index_title = _("Mandanten, Organisation und Leistungen")

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switch in the page header
    path("", include("rathaus.intake.urls")),
    path("", include("rathaus.cases.urls")),
    path("", include("rathaus.finance.urls")),
    path("", include("rathaus.einvoice.urls")),
    path("", include("rathaus.ledger.urls")),
    path("", include("rathaus.webhooks.urls")),
    path("", include("rathaus.demo.urls")),
]


def not_found(request, exception=None):
    """An address below /api/ that no route matches (a typo, an id the route's pattern refuses such as
    /einvoices/-1): problem+json like every other API answer; elsewhere Django's page (templates/404.html)."""
    if request.path.startswith("/api/"):
        return problem(request, 404, "Nicht gefunden", "Diese Adresse gibt es in der Schnittstelle nicht.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


handler404 = not_found
