"""`manage.py dump --cluster NAME DIR`: an offline dump of a live cluster and its arrays.

Reads exactly what a snapshot reads (nothing is stored) and writes what a snapshot would store of
it (the kept fields, secrets dropped) in the shapes `snapshot --from-dump` imports; files 0600.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.dumping import write_dump
from inventory.models import Cluster
from inventory.snapshotting import distrust_absence
from inventory.sources import SourceError
from inventory.tasks import LiveSource


class Command(BaseCommand):
    help = "Write an offline dump (kubernetes/, backends/) of a live cluster: its kept fields, no secrets."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True)
        parser.add_argument("directory")

    def handle(self, *args, cluster, directory, **options):
        registered = Cluster.objects.filter(name=cluster).first()
        if registered is None or not registered.is_live:
            raise CommandError(f"no live cluster named {cluster!r}")
        target = Path(directory)
        if target.exists() and any(target.iterdir()):
            raise CommandError(f"{directory} is not empty; choose a new directory")
        try:
            collection = LiveSource(registered)()
        except SourceError as error:
            raise CommandError(str(error)) from None
        distrust_absence(registered.pk, collection)  # a 404 is not written down as "none"
        written = write_dump(collection, target)
        self.stdout.write(f"wrote {len(written)} files to {target}")
        for what, reason in sorted({**collection.unread, **_array_unread(collection)}.items()):
            self.stdout.write(f"  not read: {what}: {reason}")


def _array_unread(collection) -> dict:
    return {
        f"{array}:{key}": reason
        for array, reading in collection.arrays.items()
        for key, reason in reading.collection.unread.items()
    }
