from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.notices"
    label = "notices"
    verbose_name = "Bescheide"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # registrations into the registries of the apps below (imported here: models and apps are loaded only now)
        from rathaus.catalog.services import register_template_check
        from rathaus.workflow import engine  # noqa: F401 - set_status etc. first
        from rathaus.workflow.registry import service_operators

        from . import services

        service_operators.register("issue_notice", services.issue_notice_operator)
        register_template_check("notice.typ", services.check_template)  # compiled with the form's examples
