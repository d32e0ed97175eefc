"""Models of the seeders app; filled in by its issue."""
