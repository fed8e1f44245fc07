from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.workflow"
    label = "workflow"
    default_auto_field = "django.db.models.BigAutoField"
