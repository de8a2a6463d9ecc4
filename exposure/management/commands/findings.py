"""`manage.py findings [--cluster NAME] [--namespace NS] [--status open|resolved|suppressed|all]
[--severity LEVEL] [--rule SLUG] [--format table|json]`.

Lists findings (default: open, as a table).  `--format json` prints one JSON array in the shape the
REST API serves (exposure.findings.summary: one function makes both), for CI gates and scripts.
"""

import orjson
from django.core.management.base import BaseCommand, CommandError

from exposure.findings import STATUSES, by_status, effective_status, for_summary, in_namespace, summary
from exposure.models import Finding
from exposure.rules import RULES, SEVERITIES, SEVERITY_RANK
from inventory.models import Cluster


class Command(BaseCommand):
    help = "List findings (default: open ones, as a table)."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", help="only this cluster")
        parser.add_argument("--namespace", help="only findings attributed to this namespace")
        parser.add_argument("--status", choices=STATUSES, default="open")
        parser.add_argument("--severity", choices=SEVERITIES, help="only this severity and worse")
        parser.add_argument("--rule", help="only this rule (slug)")
        parser.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args, cluster=None, namespace=None, status="open", severity=None, rule=None, **options):
        findings = for_summary(Finding.objects.all())
        if cluster:
            if not Cluster.objects.filter(name=cluster).exists():
                raise CommandError(f"no cluster named {cluster!r}")
            findings = findings.filter(cluster__name=cluster)
        if rule:
            if rule not in RULES:
                raise CommandError(f"no rule {rule!r}; `manage.py rules` lists them")
            findings = findings.filter(rule=rule)
        if severity:
            findings = findings.filter(
                severity__in=[s for s in SEVERITIES if SEVERITY_RANK[s] >= SEVERITY_RANK[severity]]
            )
        if namespace:
            findings = in_namespace(findings, namespace)
        findings = sorted(
            by_status(findings, status).distinct(),
            key=lambda f: (-SEVERITY_RANK[f.severity], f.cluster.name, f.rule, f.title),
        )
        if options["format"] == "json":
            self.stdout.write(
                orjson.dumps([summary(f) for f in findings], option=orjson.OPT_INDENT_2).decode()
            )
            return
        if not findings:
            self.stdout.write(f"no {status} findings")
            return
        for f in findings:
            where = ",".join(f.namespaces) if f.namespaces else "(cluster)"
            if len(where) > 40:
                where = f"{len(f.namespaces)} namespaces"
            self.stdout.write(
                f"{f.pk:>6}  {f.severity:<8} {effective_status(f):<10} {f.cluster.name:<12} {f.rule:<30} "
                f"{where:<40} {f.title}"
            )
