from django.apps import AppConfig


class ExposureConfig(AppConfig):
    name = "exposure"
    verbose_name = "Exposure"
    default_auto_field = "django.db.models.BigAutoField"
