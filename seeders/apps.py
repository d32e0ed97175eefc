from django.apps import AppConfig


class SeedersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "seeders"

    def ready(self):
        # members.json's stale* keys: imported as stale marks, exported back (seeders.legacy).
        from . import legacy

        legacy.register()
