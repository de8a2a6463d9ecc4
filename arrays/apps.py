from django.apps import AppConfig


class ArraysConfig(AppConfig):
    name = "arrays"
    verbose_name = "Arrays"
    default_auto_field = "django.db.models.BigAutoField"
