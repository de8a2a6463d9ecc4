"""`manage.py api_token USERNAME [--name N] [--expires DAYS]`: make an API token and print its key
once, as the last word of the output (`curl -H "Authorization: Token $(… | awk '{print $NF}')"`)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.tokens import issue


class Command(BaseCommand):
    help = "Create an API token for a dashboard user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="api", help="what the token is for")
        parser.add_argument(
            "--expires", type=int, metavar="DAYS", help="expire after DAYS days (default: never)"
        )

    def handle(self, *args, username, name, expires, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no dashboard user {username!r}")
        if not user.is_active:
            raise CommandError(f"user {username!r} is not active")
        if expires is not None and expires < 1:
            raise CommandError("--expires takes a number of days, 1 or more")
        if not name.strip():
            raise CommandError("--name must not be empty")
        token, key = issue(user, name.strip()[:100], expires)
        until = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "without expiry"
        self.stdout.write(f"API token {token.name!r} for {username}, {until}; the key is shown once: {key}")
