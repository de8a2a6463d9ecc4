"""Create the first admin account if there is none (dashboard/admin_account.py).

Name `admin`, email `admin@example.com` and a generated password printed once, unless
DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL are set.  `make run` lets `serve --ensure-admin` do
it instead, which prints the sign-in where it stands out (last, once the demo history is written).
"""

from django.core.management.base import BaseCommand

from dashboard.admin_account import ensure_admin_account


class Command(BaseCommand):
    help = "Create the admin account on first run (prints a generated password once)."

    def handle(self, *args, **options):
        account = ensure_admin_account()
        if not account.created:
            self.stdout.write(f"admin account {account.username!r} exists")
        elif account.password:
            self.stdout.write(
                self.style.WARNING(
                    f"created admin account {account.username!r}, password: {account.password}"
                )
            )
            self.stdout.write("  (shown once; change it in the admin)")
        else:
            self.stdout.write(
                f"created admin account {account.username!r} with the password from the environment"
            )
