"""The first admin account, and how the person who started the dashboard signs in.

`manage.py ensure_admin` and `manage.py serve --ensure-admin` (what `make run` starts) create the
account when there is none: name `admin`, email `admin@example.com` and a generated password, unless
DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL are set.  A generated password exists only in this
process's memory and the terminal it is printed to.
"""

import os
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model


@dataclass(frozen=True)
class AdminAccount:
    username: str
    created: bool
    password: str = ""  # a generated one, to print; empty when it came from the environment or existed

    def sign_in(self, url: str) -> list[str]:
        """The lines that tell how to sign in, framed so they stand out in a log."""
        if self.password:
            how = f"user {self.username}, password {self.password}  (generated once: change it in the admin)"
        elif self.created:
            how = f"user {self.username}, with the password from DJANGO_SUPERUSER_PASSWORD"
        else:
            how = (
                f"user {self.username} (an existing account: its password was not changed; "
                f"`manage.py changepassword {self.username}` sets a new one)"
            )
        lines = [f"  Sign in at {url}", f"  {how}"]
        rule = "=" * max(len(line) for line in lines)
        return [rule, *lines, rule]


def ensure_admin_account() -> AdminAccount:
    users = get_user_model()
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
    if users.objects.filter(username=username).exists():
        return AdminAccount(username, created=False)
    email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
    given = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
    password = given or secrets.token_urlsafe(12)
    users.objects.create_superuser(username=username, email=email, password=password)
    return AdminAccount(username, created=True, password="" if given else password)
