from django.db import models

from leadops.fields import EncryptedTextField


class Credential(models.Model):
    label = models.CharField(max_length=100)
    secret = EncryptedTextField()
    note = EncryptedTextField(blank=True, default="")

    def __str__(self) -> str:
        return self.label
