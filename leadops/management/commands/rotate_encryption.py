"""Re-encrypt every EncryptedTextField value with the first key of LEADOPS_ENCRYPTION_KEYS.

Run it after putting a new key first in the list; once it has finished, the old
keys can be removed. Stored tokens are read raw (never decrypted into Python
plaintext) and rotated with MultiFernet.rotate, one transaction per chunk.
"""

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from leadops.fields import DecryptionError, EncryptedTextField, encrypt, rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the first key of LEADOPS_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=500, help="rows per transaction (default 500)")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias (default 'default')")

    def handle(self, *args, chunk_size, database, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        try:
            encrypt("")  # validates LEADOPS_ENCRYPTION_KEYS before touching any row
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        for model in apps.get_models():
            if model._meta.proxy:
                continue
            # local_: a multi-table child must not rotate its parent's columns a second time.
            fields = [f for f in model._meta.local_concrete_fields if isinstance(f, EncryptedTextField)]
            if fields:
                count = self.rotate_model(model, fields, chunk_size, database)
                self.stdout.write(f"{model._meta.label}: {count} rows rotated")

    def rotate_model(self, model, fields, chunk_size, database) -> int:
        aliases = {f"rotate_raw_{i}": field for i, field in enumerate(fields)}
        raw_columns = {alias: Cast(field.attname, output_field=TextField()) for alias, field in aliases.items()}
        manager = model._base_manager.db_manager(database)
        rotated = 0
        last_pk = None
        while True:
            with transaction.atomic(using=database):
                queryset = manager.order_by("pk")
                if last_pk is not None:
                    queryset = queryset.filter(pk__gt=last_pk)
                rows = list(
                    queryset.select_for_update().annotate(**raw_columns).values_list("pk", *aliases)[:chunk_size]
                )
                if not rows:
                    return rotated
                changed = []
                for pk, *tokens in rows:
                    obj = model(pk=pk)
                    any_token = False
                    for field, token in zip(aliases.values(), tokens, strict=True):
                        if token:
                            try:
                                token = rotate(token)
                            except DecryptionError:
                                # Raised inside the atomic block: nothing in this chunk is written.
                                raise CommandError(
                                    f"{model._meta.label} pk={pk}: {field.name} cannot be decrypted with any key "
                                    "in LEADOPS_ENCRYPTION_KEYS; rotation stopped, this chunk left unchanged"
                                ) from None
                            any_token = True
                        # A plain-text Value bypasses the field's encryption: the token is written as is.
                        setattr(obj, field.attname, Value(token, output_field=TextField()))
                    if any_token:
                        changed.append(obj)
                if changed:
                    manager.bulk_update(changed, [field.name for field in fields])
                rotated += len(changed)
                last_pk = rows[-1][0]
