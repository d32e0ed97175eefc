from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leadops"
    verbose_name = _("Jobs and core")
