"""Models of the vk_sync app; filled in by its issue."""
