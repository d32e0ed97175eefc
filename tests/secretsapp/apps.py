from django.apps import AppConfig


class SecretsappConfig(AppConfig):
    """Test-only app exercising leadops.fields.EncryptedTextField."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "tests.secretsapp"
    label = "secretsapp"
