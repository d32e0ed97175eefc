"""Encryption at rest for secrets stored in the database.

Keys come from `settings.LEADOPS_ENCRYPTION_KEYS`: a list of Fernet keys, the
first encrypts and every one decrypts, so a new key goes first and old ones
stay listed until `manage.py rotate_encryption` has re-encrypted every row.

Unlike django-fernet-fields, a value no configured key can decrypt raises
`DecryptionError` instead of handing back the ciphertext as if it were data.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models

from leadops.logging import register_secret
from leadops.secret_widgets import CLEAR, KEEP, SecretFormField

SETTING = "LEADOPS_ENCRYPTION_KEYS"

_multifernet: MultiFernet | None = None


class DecryptionError(Exception):
    """No key in LEADOPS_ENCRYPTION_KEYS can decrypt the value."""


def _build() -> MultiFernet:
    keys = getattr(settings, SETTING, None)
    if isinstance(keys, str | bytes):
        keys = [keys]
    if not keys:
        raise ImproperlyConfigured(f"{SETTING} is empty: list at least one Fernet key")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.strip() if isinstance(key, str | bytes) else key))
        except (TypeError, ValueError):
            # `from None`: the underlying error must not drag the key into a traceback.
            raise ImproperlyConfigured(
                f"{SETTING} entry #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes, e.g. from Fernet.generate_key())"
            ) from None
    return MultiFernet(fernets)


def _fernet() -> MultiFernet:
    global _multifernet
    if _multifernet is None:
        _multifernet = _build()
    return _multifernet


def _reset_cache(*, setting, **kwargs) -> None:
    global _multifernet
    if setting == SETTING:
        _multifernet = None


setting_changed.connect(_reset_cache, dispatch_uid="leadops.fields.reset_cache")


def encrypt(plaintext: str) -> str:
    """Encrypt with the first configured key; returns the Fernet token as str."""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt with whichever configured key fits; raises DecryptionError otherwise."""
    try:
        return _fernet().decrypt(token.encode() if isinstance(token, str) else token).decode()
    except (InvalidToken, TypeError, UnicodeError):
        raise DecryptionError(f"no key in {SETTING} can decrypt this value") from None


def rotate(token: str) -> str:
    """Re-encrypt a token with the first configured key (keeps its timestamp)."""
    try:
        return _fernet().rotate(token.encode() if isinstance(token, str) else token).decode("ascii")
    except (InvalidToken, TypeError):
        raise DecryptionError(f"no key in {SETTING} can decrypt this value") from None


class EncryptedTextField(models.TextField):
    """A TextField whose column holds a Fernet token; Python sees the plaintext.

    Encryption is randomised, so the column cannot be searched, ordered by value
    or made unique: only `isnull` lookups are allowed. In forms (the admin
    included) it is write-only; see `leadops.secret_widgets`.
    """

    description = "Text encrypted at rest (Fernet)"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        register_secret(value)  # whoever holds the plaintext may log it: the log scrubber knows it now
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        plaintext = decrypt(value)
        register_secret(plaintext)  # scrubbed from every log line this process writes (leadops.logging)
        return plaintext

    def to_python(self, value):
        if value is None or isinstance(value, str):
            return value
        return str(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted with a random IV, so "
            f"'{lookup_name}' lookups cannot match; only 'isnull' is supported"
        )

    def get_transform(self, lookup_name):
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted; transforms such as '{lookup_name}' are not supported"
        )

    def formfield(self, **kwargs):
        # Whatever widget the caller (e.g. the admin's Textarea) asks for, the
        # secret is only ever shown through the write-only SecretInput.
        kwargs.pop("widget", None)
        kwargs.pop("show_hidden_initial", None)
        return super().formfield(**{**kwargs, "form_class": SecretFormField, "clearable": self.blank})

    def save_form_data(self, instance, data):
        if data is KEEP or data is None or data == "":
            return  # an empty submission keeps the stored secret
        setattr(instance, self.attname, "" if data is CLEAR else data)
