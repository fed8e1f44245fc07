from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.einvoice"
    label = "einvoice"
    verbose_name = "E-Rechnungen (XRechnung)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # the BPMN service-task operators and effects; the Vorsteuer line of the case page
        from . import effects, facts  # noqa: F401
