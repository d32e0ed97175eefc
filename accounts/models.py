"""Models of the accounts app; filled in by its issue."""
