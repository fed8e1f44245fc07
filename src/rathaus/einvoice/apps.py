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

        from . import effects, facts  # noqa: F401

        register_warm_up(_warm_up)  # per server worker


def _warm_up() -> None:
    """The compiled schemas and stylesheets (saxonche) and the Typst compiler of the invoice view, in every
    server worker before its first request. Imported here, not at start-up, so that other commands and the
    background worker do not load them."""
    from . import render, validation

    validation.warm_up()
    render.warm_up()
