from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("Telegram accounts")

    def ready(self):
        from telegram_sources.gateway import set_credentials_provider

        from .services.credentials import stored_credentials

        set_credentials_provider(stored_credentials)
