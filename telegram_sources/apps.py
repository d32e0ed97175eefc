from django.apps import AppConfig


class TelegramSourcesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telegram_sources"
    verbose_name = "Telegram"
