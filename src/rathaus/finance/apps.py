from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.finance"
    label = "finance"
    verbose_name = "Forderungen und Zahlungen (Stadtkasse)"
    default_auto_field = "django.db.models.BigAutoField"
