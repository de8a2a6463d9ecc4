"""`manage.py rules [--format table|json]`: every rule with slug, title, severity, guideline and evidence
key (exposure/catalog.py, the rows the dashboard's rules page shows too)."""

import orjson
from django.core.management.base import BaseCommand

from exposure.catalog import catalog


class Command(BaseCommand):
    help = "List every rule: slug, title, default severity, the guideline it enforces, its evidence key."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args, **options):
        rows = catalog()
        if options["format"] == "json":
            self.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return
        for row in rows:
            self.stdout.write(f"{row['slug']}  [{row['severity']}]  {row['title']}")
            self.stdout.write(f"    guideline:    {row['guideline']}")
            self.stdout.write(f"    evidence key: {row['evidence_key']}")
