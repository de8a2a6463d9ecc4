"""`manage.py rules [--format table|json]`: every rule with slug, severity, guideline and evidence key."""

import orjson
from django.core.management.base import BaseCommand

from exposure.rules import ALL_RULES


class Command(BaseCommand):
    help = "List every rule: slug, default severity, the guideline it enforces, its evidence key."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args, **options):
        rows = [
            {
                "slug": r.slug,
                "severity": r.severity,
                "guideline": r.guideline,
                "evidence_key": r.evidence_key,
                "attributed_to": r.attributed_to,
                "reads": list(r.reads) + (["array records"] if r.reads_arrays else []),
                "remediation": r.remediation,
            }
            for r in ALL_RULES
        ]
        if options["format"] == "json":
            self.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return
        for row in rows:
            self.stdout.write(f"{row['slug']}  [{row['severity']}]")
            self.stdout.write(f"    guideline:    {row['guideline']}")
            self.stdout.write(f"    evidence key: {row['evidence_key']}")
