"""Default beat entries for telegram_sources (written by `manage.py setup_schedules`)."""

from leadops.schedules import Schedule

SCHEDULES = [
    Schedule(
        name="Refresh the reference group daily",
        task="telegram_sources.tasks.scheduled_reference_refresh",
        crontab={"minute": "30", "hour": "5"},  # 05:30 UTC, every day
        description=(
            "Exports REFERENCE_GROUP and re-syncs in_reference from who is in it now. "
            "The seeders page refuses to approve on a snapshot older than REFERENCE_MAX_AGE_HOURS, "
            "so turning this off means refreshing by hand before every iteration."
        ),
    ),
]
