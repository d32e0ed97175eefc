from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Telegram accounts"

    def ready(self):
        from telegram_sources import telethon_gateway

        from .services.credentials import stored_credentials

        telethon_gateway.set_credentials_provider(stored_credentials)
