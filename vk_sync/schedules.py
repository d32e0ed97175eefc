"""Default beat entries for vk_sync (written by `manage.py setup_schedules`)."""

from leadops.schedules import Schedule

SCHEDULES = [
    Schedule(
        name="Sync VK subscribers daily",
        task="vk_sync.tasks.scheduled_subscriber_syncs",
        crontab={"minute": "0", "hour": "4"},  # 04:00 UTC, every day
        description=(
            "Starts one subscriber sync job per VK community: who is a member now, who joined and who left "
            "since the last sync (membership events). A sync that fetches fewer than VK_SAFETY_THRESHOLD of "
            "the expected members changes nothing and fails its job. Turning this off means joins and leaves "
            "are only recorded when someone runs the sync by hand, and the dates get coarser."
        ),
    ),
    Schedule(
        name="Refresh VK subscriber profiles weekly",
        task="vk_sync.tasks.scheduled_profile_refreshes",
        crontab={"minute": "0", "hour": "5", "day_of_week": "0"},  # Sunday 05:00 UTC
        description=(
            "Starts one profile refresh job per VK community: users.get for every current member (name, sex, "
            "city, last seen, deactivated...). Runs after the daily subscriber sync so new members are included. "
            "Uses the same token pool as the syncs; turn it off if tokens are short and profiles can be older."
        ),
    ),
    Schedule(
        name="Sync VK posts and authors daily",
        task="vk_sync.tasks.scheduled_post_syncs",
        crontab={"minute": "30", "hour": "4"},
        description=(
            "Starts a posts job (every post, execute-batched) and an authors job (profiles of the people who "
            "posted) per VK community. The interactions job reads the counts these posts carry."
        ),
    ),
    Schedule(
        name="Sync VK likes, comments and reposts daily",
        task="vk_sync.tasks.scheduled_interaction_syncs",
        crontab={"minute": "30", "hour": "5"},
        description=(
            "Starts an interactions job (fast scan, then deep scan of popular posts; reposts only with a token "
            "that administers the community) and a profile refresh of the people found, per VK community."
        ),
    ),
    Schedule(
        name="Sync VK mailing list and first messages daily",
        task="vk_sync.tasks.scheduled_mailing_syncs",
        crontab={"minute": "0", "hour": "6"},
        description=(
            "Starts a mailing job (dialogs with the community; community tokens only) and a first-message "
            "analysis of dialogs not analysed yet, per VK community."
        ),
    ),
    Schedule(
        name="Estimate VK users' gender hourly",
        task="vk_sync.tasks.refresh_genders_task",
        crontab={"minute": "45"},  # every hour at :45 UTC
        description=(
            "Fills in the gender of VK users written without a profile's sex (new members, authors, people who "
            "interacted, deactivated profiles): VK's own sex when on file, else the estimate from the names and "
            "the short address. Profile refreshes set it themselves. Turning this off leaves those users "
            "without a gender until a subscriber-details sync."
        ),
    ),
]
