"""Index helpers for what the two databases we run on spell differently."""

from django.db import models
from django.db.models.expressions import OrderBy


class NullsOrderIndex(models.Index):
    """An index on ordered expressions with NULLS FIRST/LAST, portable to SQLite.

    PostgreSQL needs NULLS LAST spelled out for the index to match an ORDER BY
    `... DESC NULLS LAST`. SQLite refuses NULLS in CREATE INDEX but already sorts
    NULLs last in DESC (and first in ASC), so there the clause is dropped; use it
    only where that default is what the ORDER BY asks for.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "sqlite":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = self.clone()
        plain.expressions = tuple(
            OrderBy(e.expression, descending=e.descending) if isinstance(e, OrderBy) else e for e in self.expressions
        )
        return super(NullsOrderIndex, plain).create_sql(model, schema_editor, using=using, **kwargs)
