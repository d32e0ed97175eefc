"""Fill in the stored gender estimate of rows that have none yet (gender = "").

Shared by telegram_sources and vk_sync: both keep `gender` + `gender_rationale` on their
user rows, and their writers leave `gender` at "" for new rows and rows whose name changed.
"""

import json
from collections.abc import Callable, Sequence

from django.db import connections, router, transaction
from django.db.models import CharField, Model, TextField

from leadops.bulk import chunked

ROWS_PER_STATEMENT = 1000  # SQLite: 1000 x (3 + inputs) parameters stay under its limit of 32,766

# (gender, rationale lines) from the row's inputs, passed as keyword arguments
Estimator = Callable[..., tuple[str, list[str]]]


def refresh_pending(*, model: type[Model], inputs: Sequence[str], estimate: Estimator, batch_size: int = 5000) -> int:
    """Estimate every row whose gender is "", batch by batch in pk order; return how many were written.

    A row is written only if it is still "" and its inputs are still what was read: a writer
    that renamed someone meanwhile has reset the row, and the next refresh redoes it with the
    new name instead of this one storing an estimate of the old name. Each batch commits on its
    own, so a long backfill makes progress and holds no lock for long.
    """
    manager = model._default_manager
    written, last_pk = 0, None
    while True:
        pending = manager.filter(gender="")
        if last_pk is not None:
            pending = pending.filter(pk__gt=last_pk)
        rows = list(pending.order_by("pk").values_list("pk", *inputs)[:batch_size])
        if not rows:
            return written
        last_pk = rows[-1][0]
        values = []
        for pk, *row in rows:
            gender, rationale = estimate(**dict(zip(inputs, row, strict=True)))
            values.append((pk, gender, list(rationale), *row))
        with transaction.atomic(using=router.db_for_write(model)):
            written += _store(model, inputs, values)


def _store(model: type[Model], inputs: Sequence[str], values: list[tuple]) -> int:
    """UPDATE ... FROM the estimates, guarded: still pending, same inputs. Returns the rows written."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    table = quote(meta.db_table)
    fields = [meta.pk, *(meta.get_field(name) for name in inputs)]
    names = ["pk", "gender", "rationale", *(f"in_{i}" for i in range(len(inputs)))]
    same = "IS NOT DISTINCT FROM" if connection.vendor == "postgresql" else "IS"  # null-safe equality
    unchanged = "".join(f" AND {table}.{quote(f.column)} {same} v.in_{i}" for i, f in enumerate(fields[1:]))
    update = f"UPDATE {table} SET gender = v.gender, gender_rationale = {{rationale}} FROM {{source}}"
    pk = f"{table}.{quote(meta.pk.column)}"
    update += f" WHERE {pk} = v.pk AND {table}.gender = ''{unchanged}"
    # The batch's pk range, redundant with the join, bounds the scan of pending rows whatever the
    # planner believes: right after an export its statistics may say almost none are pending.
    update += f" AND {pk} BETWEEN %s AND %s"
    bounds = [values[0][0], values[-1][0]]  # values come in pk order
    # The inputs go back as values_list() read them: already what the database holds.
    rows = [(pk, gender, json.dumps(rationale, ensure_ascii=False), *row) for pk, gender, rationale, *row in values]
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY into a temp table, as the export writer does: thousands of placeholders (or
            # arrays) cost more in psycopg's client-side binding than the update itself.
            types = ["bigint", "text", "text"] + [
                "text" if isinstance(f, CharField | TextField) else f.db_type(connection) for f in fields[1:]
            ]
            columns = ", ".join(f"{name} {type_}" for name, type_ in zip(names, types, strict=True))
            cursor.execute(f"CREATE TEMP TABLE gender_incoming ({columns}) ON COMMIT DROP")
            with cursor.copy(f"COPY gender_incoming ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("ANALYZE gender_incoming")  # autovacuum never sees temp tables
            cursor.execute(update.format(rationale="v.rationale::jsonb", source="gender_incoming v"), bounds)
            written = cursor.rowcount
            cursor.execute("DROP TABLE gender_incoming")  # the caller's transaction may go on
            return written
        # SQLite names the columns of VALUES column1, column2...; a leading WITH would hide the rowcount.
        columns = ", ".join(f"column{i} AS {name}" for i, name in enumerate(names, start=1))
        placeholders = "(" + ", ".join(["%s"] * len(names)) + ")"
        for chunk in chunked(rows, ROWS_PER_STATEMENT):
            source = f"(SELECT {columns} FROM (VALUES {', '.join([placeholders] * len(chunk))})) AS v"
            params = [p for row in chunk for p in row] + bounds
            cursor.execute(update.format(rationale="v.rationale", source=source), params)
            written += cursor.rowcount
    return written
