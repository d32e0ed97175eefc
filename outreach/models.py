"""Models of the outreach app; filled in by its issue."""
