from django.apps import AppConfig


class VirtualserversConfig(AppConfig):
    name = "virtualservers"
    default_auto_field = "django.db.models.BigAutoField"
