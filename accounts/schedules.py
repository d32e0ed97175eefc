"""Default beat entries for accounts (written by `manage.py setup_schedules`)."""

from leadops.schedules import Schedule

SCHEDULES = [
    Schedule(
        name="Join new target groups every 2 hours",
        task="accounts.tasks.scheduled_join_batches",
        crontab={"minute": "0", "hour": "*/2"},  # on the hour, every 2 hours, UTC
        description=(
            "Starts one Smart Joiner batch (5 groups) per niche that has new join targets, "
            "skipping a niche whose join job is still queued or running. Each batch pauses "
            "5-10 minutes between groups and binds every joined group to its account for good. "
            "Turn it off to join only by hand (the 'Join selected now' action or manage.py join_batch)."
        ),
    ),
]
