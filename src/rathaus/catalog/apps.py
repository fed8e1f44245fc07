from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class Config(AppConfig):
    name = "rathaus.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .models import Service, ServiceVersion
        from .services import forget_current_versions

        for model in (Service, ServiceVersion):
            post_save.connect(forget_current_versions, sender=model, dispatch_uid=f"forget-current-{model.__name__}")
            post_delete.connect(forget_current_versions, sender=model,
                                dispatch_uid=f"forget-current-del-{model.__name__}")
