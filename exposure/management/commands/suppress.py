"""`manage.py suppress FINDING_ID --reason TEXT [--days N | --until ISO-TIME] [--by USERNAME]`
and `manage.py suppress FINDING_ID --lift`.

Accepts a finding for the evidence it has now: it stays listed as suppressed, and returns when the
suppression expires or its evidence changes.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exposure.findings import lift_suppression, suppress
from exposure.models import Finding
from inventory.times import rfc3339


class Command(BaseCommand):
    help = "Suppress (accept) a finding with a reason until an expiry, or lift its suppression."

    def add_arguments(self, parser):
        parser.add_argument("finding", type=int)
        parser.add_argument("--reason", default="")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--until", metavar="ISO-TIME")
        parser.add_argument("--by", metavar="USERNAME", help="the dashboard user accepting it")
        parser.add_argument("--lift", action="store_true", help="end its suppression now")

    def handle(self, *args, finding, reason, days, until, by, lift, **options):
        target = Finding.objects.filter(pk=finding).first()
        if target is None:
            raise CommandError(f"no finding {finding}")
        if lift:
            lifted = lift_suppression(target)
            self.stdout.write(f"finding {finding}: {lifted} suppression(s) lifted")
            return
        expires = timezone.now() + timedelta(days=days)
        if until:
            expires = parse_datetime(until)
            if expires is None or expires.tzinfo is None:
                raise CommandError(f"--until {until!r} is not an ISO time with a timezone")
        user = None
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(f"no dashboard user {by!r}")
        try:
            suppress(target, reason, expires, user)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"finding {finding} suppressed until {rfc3339(expires)}")
