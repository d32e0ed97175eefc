from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VkSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "vk_sync"
    verbose_name = _("VK")
