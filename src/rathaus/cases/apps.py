from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.cases"
    label = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # registrations into the registries of the apps below (imported here: models and apps are loaded only now)
        from rathaus.documents.services import register_case_reader
        from rathaus.workflow import engine  # noqa: F401 - registers the script functions

        from .services import may_read_case

        register_case_reader(may_read_case)  # documents of a case: who may read the case (need to know)
