from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "rathaus.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        # the worker (re)starts the pump's chain when it starts (core knows no app)
        from rathaus.core.worker import register_worker_start

        from . import facts  # noqa: F401 - the case page of a Gewerbeanzeige shows where it was forwarded
        from .tasks import ensure_pump

        register_worker_start(ensure_pump)
