"""The Celery app.

Broker: Redis when REDIS_URL is set; otherwise kombu's filesystem transport
under var/broker/, so `make demo` runs real workers on a machine with no
servers. Results go to the database (django-celery-results), schedules come
from the database (django-celery-beat), both visible in admin.
"""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadops.settings")

app = Celery("leadops")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _ensure_broker_dirs():
    # The filesystem transport does not create its folders.
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


_ensure_broker_dirs()
app.autodiscover_tasks()
