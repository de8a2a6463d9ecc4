"""`manage.py send_digest`: who would get which digest now (--dry-run), one address's digest written
to files (--preview EMAIL [--out DIR]), or what is due sent once, here and now (--now)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from digest.content import build_digest
from digest.delivery import send_due
from digest.links import unsubscribe_url
from digest.models import Delivery
from digest.period import Period
from digest.recipients import Recipient, recipient_for, recipients
from digest.schedule import due_period, next_moment, preferences_of
from tenancy.ownership import normalise_address


class Command(BaseCommand):
    help = "The weekly exposure digest: --dry-run, --preview EMAIL [--out DIR], or --now."

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--dry-run", action="store_true", help="list who would get what now; send nothing")
        what.add_argument("--preview", metavar="EMAIL", help="write EMAIL's digest of the week ending now")
        what.add_argument("--now", action="store_true", help="send what is due now, once, in this process")
        parser.add_argument(
            "--out", metavar="DIR", default=".", help="where --preview writes (default: here)"
        )

    def handle(self, *args, **options):
        if options["preview"]:
            self.preview(options["preview"], Path(options["out"]))
        elif options["dry_run"]:
            self.dry_run()
        else:
            outcomes = send_due()
            summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
            self.stdout.write(f"digests: {summary or 'none due'}")
            if outcomes.get(Delivery.Status.PENDING) or outcomes.get(Delivery.Status.FAILED):
                raise CommandError("some digests were not sent: see the deliveries in the admin")

    def preview(self, address: str, out: Path) -> None:
        recipient = recipient_for(address)
        if recipient is None:
            raise CommandError(
                f"{address} gets no digest: not an admin, on no cluster's list, owner of nothing"
            )
        digest = build_digest(
            recipient,
            Period.week_ending(timezone.now()),
            site_url=settings.SITE_URL,
            unsubscribe_url=unsubscribe_url(recipient.address),
        )
        out.mkdir(parents=True, exist_ok=True)
        name = normalise_address(address).replace("/", "_")  # an address may hold a slash; a file name not
        for suffix, body in (("html", digest.html), ("txt", digest.text)):
            path = out / f"digest-{name}.{suffix}"
            path.write_text(body, encoding="utf-8")
            self.stdout.write(f"wrote {path}")
        self.stdout.write(f"subject: {digest.subject}  ({_who(recipient)}; nothing sent)")

    def dry_run(self) -> None:
        now = timezone.now()
        found = recipients()
        preferences = preferences_of(found)
        sent = set(
            Delivery.objects.exclude(status=Delivery.Status.PENDING).values_list("address", "period_key")
        )
        if not found:
            self.stdout.write(
                "no recipients: no admin or owner with an email address, no cluster address list"
            )
        for address, recipient in found.items():
            chosen = preferences[address]
            period = due_period(chosen, now)
            if chosen.unsubscribed:
                when = "unsubscribed"
            elif period is not None and (address, period.key) not in sent:
                when = f"due now: week {period.key}"
            else:
                when = f"next {next_moment(chosen, now):%Y-%m-%d %H:%M %Z}"
            self.stdout.write(f"{address}  {_who(recipient)}  [{chosen.describe()}]  {when}")


def _who(recipient: Recipient) -> str:
    if recipient.kind == "admin":
        return "admin: every cluster"
    if recipient.kind == "cluster-list":
        return f"cluster list: {len(recipient.cluster_ids)} cluster(s)"
    names = sum(len(n) for n in recipient.scope.namespaces.values())
    clusters = len(recipient.scope.namespaces)
    return f"owner: {names} namespace(s) in {clusters} cluster(s)" + (
        "" if recipient.has_account else ", no account"
    )
