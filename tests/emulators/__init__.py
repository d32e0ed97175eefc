"""In-process stand-ins for the external services, speaking their real wire formats."""
