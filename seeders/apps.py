from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SeedersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "seeders"
    verbose_name = _("Seeders")

    def ready(self):
        # members.json's stale* keys: imported as stale marks, exported back (seeders.legacy).
        from . import legacy

        legacy.register()
