from django.apps import AppConfig


class LeadopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leadops"
    verbose_name = "Jobs and core"
