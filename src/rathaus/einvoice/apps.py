from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.einvoice"
    label = "einvoice"
    verbose_name = "E-Rechnungen (XRechnung)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import effects  # noqa: F401 - registers the BPMN service-task operators and effects
