"""The findings filter: one definition for the findings page and its CSV export (NetBox style: a form
that validates the query string and turns it into a queryset).

It starts from the findings the reader may see (`dashboard.queries.visible_findings`), and every
choice it offers or accepts is taken from that scope: a namespace or tenant the reader does not
see filters to nothing (never to "everything", never to an error that echoes it back).
"""

from datetime import UTC, datetime, time

from django import forms
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from dashboard.queries import finding_arrays, severity_rank, visible_clusters, visible_findings
from exposure.findings import STATUSES, by_status
from exposure.models import FindingNamespace
from exposure.rules import RULES, SEVERITIES
from tenancy.access import namespace_tenants
from tenancy.scope import Scope

SORTS = {
    "-severity": ("-severity_rank", "-first_seen"),
    "severity": ("severity_rank", "-first_seen"),
    "-first_seen": ("-first_seen", "-severity_rank"),
    "first_seen": ("first_seen", "-severity_rank"),
}
# Django's own messages echo the value; a value named in a URL may be another tenant's name.
NOT_OFFERED = {"invalid_choice": "Not one of the values offered here."}


class FindingFilter(forms.Form):
    cluster = forms.ChoiceField(required=False, error_messages=NOT_OFFERED)
    namespace = forms.CharField(required=False, max_length=253)
    tenant = forms.ChoiceField(required=False, error_messages=NOT_OFFERED)
    rule = forms.ChoiceField(required=False, error_messages=NOT_OFFERED)
    severity = forms.MultipleChoiceField(
        required=False,
        choices=[(s, s) for s in reversed(SEVERITIES)],
        widget=forms.CheckboxSelectMultiple,
        error_messages=NOT_OFFERED,
    )
    status = forms.ChoiceField(choices=[(s, s) for s in STATUSES], required=False, error_messages=NOT_OFFERED)
    array = forms.ChoiceField(required=False, error_messages=NOT_OFFERED)
    first_seen_since = forms.DateField(
        required=False, label="First seen since", widget=forms.DateInput(attrs={"type": "date"})
    )
    resolved_since = forms.DateField(
        required=False, label="Resolved since", widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("-severity", "worst first"),
            ("-first_seen", "newest first"),
            ("first_seen", "oldest first"),
        ]
        + [("severity", "least severe first")],
        error_messages=NOT_OFFERED,
    )

    def __init__(self, data, scope: Scope):
        super().__init__(data)
        self.scope = scope
        self.clusters = {c.name: c for c in visible_clusters(scope).order_by("name")}
        self.tenants_by_cluster = {  # cluster id -> namespace -> tenant, of the namespaces the reader sees
            c.pk: namespace_tenants(c, None if scope.admin else scope.visible_in(c.pk))
            for c in self.clusters.values()
        }
        tenants = sorted({t for names in self.tenants_by_cluster.values() for t in names.values()})
        self.fields["cluster"].choices = [("", "any")] + [(n, n) for n in self.clusters]
        self.fields["tenant"].choices = [("", "any")] + [(t, t) for t in tenants]
        self.fields["rule"].choices = [("", "any")] + [(slug, slug) for slug in sorted(RULES)]
        self.fields["array"].choices = [("", "any")] + [(a, a) for a in finding_arrays(scope)]

    def value(self, name: str):
        """The cleaned value, or the default: status open, worst first."""
        cleaned = getattr(self, "cleaned_data", {}).get(name)
        return cleaned or {"status": "open", "sort": "-severity"}.get(name, cleaned)

    def findings(self, base=None):
        """The findings the filter selects, sorted; none when the query string is not valid."""
        selected = self.selected(base)
        return selected.order_by(*SORTS[self.value("sort")], "pk") if self.is_valid() else selected

    def selected(self, base=None):
        """The findings the filter selects, unsorted, each with its `severity_rank` (for whatever
        order the caller lists them in: the page's sort, the API's cursor); none when not valid.
        `base`: the reader's findings to start from, restricted to their scope (`visible_findings`,
        with what a summary reads, by default)."""
        findings = visible_findings(self.scope) if base is None else base.restrict(self.scope)
        if not self.is_valid():
            return findings.none()
        cluster = self.clusters.get(self.value("cluster"))
        if cluster:
            findings = findings.filter(cluster=cluster)
        if namespace := self.value("namespace"):
            # Through the attributions the reader may see: another tenant's namespace selects nothing.
            attributed = FindingNamespace.objects.restrict(self.scope).filter(namespace=namespace)
            findings = findings.filter(pk__in=attributed.values("finding_id"))
        if tenant := self.value("tenant"):
            findings = findings.filter(
                pk__in=self._attributed_to_tenant(tenant, cluster).values("finding_id")
            )
        if rule := self.value("rule"):
            findings = findings.filter(rule=rule)
        if severities := self.value("severity"):
            findings = findings.filter(severity__in=severities)
        if array := self.value("array"):
            # `depends` lists `array:NAME` tokens (array names are slugs): matched as a whole JSON string.
            findings = findings.annotate(depends_text=Cast("depends", TextField())).filter(
                depends_text__contains=f'"array:{array}"'
            )
        if since := self.value("first_seen_since"):
            findings = findings.filter(first_seen__gte=_start_of(since))
        if since := self.value("resolved_since"):
            findings = findings.filter(resolved_at__gte=_start_of(since))
        findings = by_status(findings, self.value("status"))
        ranked = findings.annotate(severity_rank=severity_rank())
        return ranked.select_related("cluster").order_by(*SORTS[self.value("sort")], "pk")

    def _attributed_to_tenant(self, tenant: str, cluster):
        condition = Q(pk__in=[])
        for cluster_id, tenants in self.tenants_by_cluster.items():
            if cluster is None or cluster.pk == cluster_id:
                names = sorted(ns for ns, t in tenants.items() if t == tenant)
                condition |= Q(finding__cluster_id=cluster_id, namespace__in=names)
        return FindingNamespace.objects.restrict(self.scope).filter(condition)

    def tenants_of(self, cluster_id: int, namespaces: list[str]) -> list[str]:
        """The tenants of a finding's (already redacted) namespaces."""
        tenants = self.tenants_by_cluster.get(cluster_id, {})
        return sorted({tenants[ns] for ns in namespaces if ns in tenants})


def _start_of(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
