from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.events"
    label = "events"
    default_auto_field = "django.db.models.BigAutoField"
