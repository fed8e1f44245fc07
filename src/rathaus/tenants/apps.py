from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.tenants"
    label = "tenants"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Mandanten"
