from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.finance"
    label = "finance"
    verbose_name = "Forderungen und Zahlungen (Stadtkasse)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # registrations into the registries of the apps below (imported here: models and apps are loaded only now)
        from rathaus.cases.facts import register_case_detail, register_case_fees
        from rathaus.notices.payments import register_payment_provider

        from . import providers, receivables

        register_payment_provider(providers.payment_on_approval)  # the payment part of an approval notice
        register_case_fees(receivables.case_fees)  # case page and applicant's status page
        register_case_detail("receivables")(_receivables_of)  # GET /api/v1/cases/{id}


def _receivables_of(case) -> list[dict]:
    # the API's shape of a receivable; imported on first use, so that commands and workers need not load the
    # API layer (django-ninja, pydantic) at start-up
    from .api import receivable_out

    return [receivable_out(r) for r in case.receivables.all()]
