from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.cases"
    label = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from rathaus.workflow import engine  # noqa: F401 - registers the script functions
