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
    Schedule(
        name="Estimate Telegram users' gender hourly",
        task="telegram_sources.tasks.refresh_genders_task",
        crontab={"minute": "15"},  # every hour at :15 UTC
        description=(
            "Fills in the gender estimate (from first name, last name and username) of Telegram users that have "
            "none yet: an export does it when it finishes, this catches exports stopped by a FloodWait, "
            "legacy imports and renamed users. Cheap when nothing is pending; turning it off leaves those "
            "users without a gender until the next finished export."
        ),
    ),
]
