from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.documents"
    label = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # registrations into the registries of the apps below (imported here: models and apps are loaded only now)
        from rathaus.core.forms import register_message_templates

        from .services import PARAMETER_MESSAGES

        # the web forms translate the filled-in upload messages too (core imports no app)
        register_message_templates(*PARAMETER_MESSAGES)
