from django.apps import AppConfig


class Config(AppConfig):
    name = "rathaus.ledger"
    label = "ledger"
    verbose_name = "Haushalt und Buchführung (Doppik)"
    default_auto_field = "django.db.models.BigAutoField"
