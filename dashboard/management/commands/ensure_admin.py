"""Create the first admin account if there is none.

Name `admin`, email `admin@example.com` and a generated password printed once, unless
DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL are set.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin account on first run (prints a generated password once)."

    def handle(self, *args, **options):
        users = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        if users.objects.filter(username=username).exists():
            self.stdout.write(f"admin account {username!r} exists")
            return
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
        given = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email=email, password=password)
        if given:
            self.stdout.write(f"created admin account {username!r} with the password from the environment")
        else:
            self.stdout.write(self.style.WARNING(f"created admin account {username!r}, password: {password}"))
            self.stdout.write("  (shown once; change it in the admin)")
