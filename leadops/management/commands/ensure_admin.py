"""Create the admin user with a generated password, printed exactly once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser with a generated password (printed once); do nothing if it exists."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(
                f"Admin user '{username}' already exists; its password was shown when it was created. "
                f"Reset it with: manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Admin user: {username}  password: {password}"))
        self.stdout.write("(shown only this once)")
