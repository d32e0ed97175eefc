"""The Celery app.

Broker: Redis when REDIS_URL is set; otherwise kombu's filesystem transport
under var/broker/, so `make demo` runs real workers on a machine with no
servers. Results go to the database (django-celery-results), schedules come
from the database (django-celery-beat), both visible in admin.
"""

import os
from pathlib import Path

from celery import Celery, signals

from .heartbeat import WorkerHeartbeat
from .logging import bind_task_context, configure_from_settings, unbind_task_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadops.settings")

app = Celery("leadops")
app.config_from_object("django.conf:settings", namespace="CELERY")

# A receiver on setup_logging keeps workers and beat from replacing the root logger's handlers with
# Celery's own (which would skip the secret scrubber); they configure settings.LOGGING instead.
signals.setup_logging.connect(configure_from_settings, weak=False, dispatch_uid="leadops.logging.setup")
# Lines logged while a task runs carry its task id and the JobRun id it was given.
signals.task_prerun.connect(bind_task_context, weak=False, dispatch_uid="leadops.logging.bind")
signals.task_postrun.connect(unbind_task_context, weak=False, dispatch_uid="leadops.logging.unbind")


def _ensure_broker_dirs():
    # The filesystem transport does not create its folders.
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


_ensure_broker_dirs()
app.autodiscover_tasks()
# Every worker writes a heartbeat that /healthz reads (leadops.heartbeat, leadops.health).
app.steps["consumer"].add(WorkerHeartbeat)
