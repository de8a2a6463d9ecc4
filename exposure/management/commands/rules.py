"""`manage.py rules [--format table|json]`: every rule with slug, severity, guideline and evidence key."""

import orjson
from django.core.management.base import BaseCommand

from exposure.rules import ALL_RULES


class Command(BaseCommand):
    help = "List every rule: slug, default severity, the guideline it enforces, its evidence key."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args, **options):
        rows = [r.describe() for r in ALL_RULES]  # the REST API's shape (Rule.describe)
        if options["format"] == "json":
            self.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return
        for row in rows:
            self.stdout.write(f"{row['slug']}  [{row['severity']}]")
            self.stdout.write(f"    guideline:    {row['guideline']}")
            self.stdout.write(f"    evidence key: {row['evidence_key']}")
