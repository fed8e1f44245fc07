from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
