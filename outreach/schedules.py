"""Default beat entries for outreach (written by `manage.py setup_schedules`)."""

from leadops.schedules import Schedule

SCHEDULES = [
    Schedule(
        name="Sync the niches sheet hourly",
        task="outreach.tasks.sync_sheet_task",
        crontab={"minute": "5"},
        description="Reads the niches tab (GOOGLE_SHEET_TAB), queues new search queries and writes the status back.",
    ),
    Schedule(
        name="Start due Yandex searches every minute (night window)",
        task="outreach.tasks.search_task",
        crontab={"minute": "*", "hour": "21-23,0-4"},  # 00:00-07:59 Moscow time is 21:00-04:59 UTC
        description=(
            "Starts deferred Yandex searches whose time has come, within 10 requests a second; outside the "
            "night window (when YANDEX_ENFORCE_NIGHT_WINDOW) nothing starts."
        ),
    ),
    Schedule(
        name="Poll Yandex operations every 5 minutes",
        task="outreach.tasks.poll_task",
        crontab={"minute": "*/5"},
        description="Asks Yandex about started searches; finished ones are parsed into results and companies.",
    ),
    Schedule(
        name="Deduplicate companies hourly",
        task="outreach.tasks.dedupe_task",
        crontab={"minute": "35"},
        description="Marks later companies with the same domain (or name) as duplicates of the oldest one.",
    ),
    Schedule(
        name="Enrich companies every 5 minutes",
        task="outreach.tasks.enrich_task",
        crontab={"minute": "*/5"},
        description="Reads a few new companies' websites for e-mail addresses (robots.txt respected).",
    ),
    Schedule(
        name="Write emails every 10 minutes",
        task="outreach.tasks.generate_task",
        crontab={"minute": "*/10"},
        description="Writes a first email for each company with a contact, from the active offer brief.",
    ),
    Schedule(
        name="Queue emails every 10 minutes",
        task="outreach.tasks.queue_task",
        crontab={"minute": "3-59/10"},
        description="Schedules written emails inside OUTREACH_WINDOW, spaced per mailbox, within daily caps.",
    ),
    Schedule(
        name="Deliver due emails every minute",
        task="outreach.tasks.deliver_task",
        crontab={"minute": "*"},
        description=(
            "Sends emails whose time has come (only when EMAIL_SENDING_ENABLED), and moves sends that a dead "
            "worker left unfinished to 'needs review'."
        ),
    ),
]
