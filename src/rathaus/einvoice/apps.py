from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.einvoice"
    label = "einvoice"
    verbose_name = "E-Rechnungen (XRechnung)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # registrations into the registries of the apps below (imported here: models and apps are loaded only now)
        # the BPMN service-task operators and effects; the Vorsteuer line of the case page
        from rathaus.core.serving import register_warm_up

        from . import effects, facts, render, validation  # noqa: F401

        register_warm_up(validation.warm_up)  # compiled schemas and stylesheets (saxonche) per server worker
        register_warm_up(render.warm_up)  # the Typst compiler of the invoice view
