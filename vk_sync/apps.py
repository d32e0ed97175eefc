from django.apps import AppConfig


class VkSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "vk_sync"
