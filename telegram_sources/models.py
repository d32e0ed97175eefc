"""Models of the telegram_sources app; filled in by its issue."""
