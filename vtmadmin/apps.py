from django.apps import AppConfig


class VtmadminConfig(AppConfig):
    name = "vtmadmin"
    default_auto_field = "django.db.models.BigAutoField"
