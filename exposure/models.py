"""Exposure's tables: findings with their attributions, events and suppressions, namespace grades
(as intervals) and the admin's per-cluster rule settings."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from inventory.constants import SEVERITY_CHOICES
from inventory.json_column import JSONColumn
from inventory.models import Cluster
from tenancy.restrict import PerClusterQuerySet, PerNamespaceQuerySet, RestrictedQuerySet, per_cluster


class FindingQuerySet(RestrictedQuerySet):
    """A finding is seen by the readers of any namespace it is attributed to (redaction then hides
    the other namespaces' side: tenancy/redaction.py)."""

    def scope_condition(self, scope):
        return per_cluster(
            scope,
            lambda cluster_id, names: (
                Q(cluster_id=cluster_id)
                & Exists(FindingNamespace.objects.filter(finding=OuterRef("pk"), namespace__in=names))
            ),
        )


class AttributionQuerySet(RestrictedQuerySet):
    """A finding's attributions to the namespaces the reader sees (the cluster is the finding's)."""

    def scope_condition(self, scope):
        return per_cluster(
            scope, lambda cluster_id, names: Q(finding__cluster_id=cluster_id, namespace__in=names)
        )


class ThroughFindingQuerySet(RestrictedQuerySet):
    """Events and suppressions: seen with their finding."""

    def scope_condition(self, scope):
        return Q(finding__in=Finding.objects.restrict(scope).values("pk"))


class RuleSetting(models.Model):
    """An admin's decision about one rule on one cluster: another severity, or off.  Seen with the
    cluster (like its snapshots): it decides how every reader's findings there are judged and names
    no tenant."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="rule_settings")
    rule = models.CharField(max_length=64)
    severity = models.CharField(
        max_length=8, blank=True, choices=SEVERITY_CHOICES, help_text="Empty: default."
    )
    enabled = models.BooleanField(default=True)

    objects = PerClusterQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "rule"], name="one_setting_per_rule")]

    def __str__(self):
        return f"{self.cluster.name}: {self.rule}"


class Finding(models.Model):
    """One violation with a life: the same fingerprint in the next snapshot is the same finding.

    An open finding costs no write per snapshot: it was last seen in the cluster's latest visible
    snapshot.  Writes happen when it opens, changes (evidence, severity, paths), resolves or reopens.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="findings")
    rule = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    identity = JSONColumn(help_text="The stable identities the fingerprint is made of.")
    severity = models.CharField(max_length=8, choices=SEVERITY_CHOICES)
    title = models.TextField()
    detail = models.TextField(blank=True)
    namespaces = JSONColumn(default=list, help_text="Attributed namespaces; empty: the cluster.")
    cluster_wide = models.BooleanField(
        default=False,
        help_text="Its actor reaches every namespace by the nature of its grant: graded as the cluster's "
        "(still attributed to every namespace it reaches).",
    )
    evidence = JSONColumn(default=dict)
    evidence_key = models.CharField(max_length=32, help_text="Digest of the evidence.")
    paths = JSONColumn(default=list, help_text="The paths that explain it (the first MAX_STORED_PATHS).")
    path_count = models.PositiveIntegerField(default=0, help_text="How many paths explain it in all.")
    refs = JSONColumn(default=list, help_text="References of the objects that make it true.")
    depends = JSONColumn(default=list, help_text="Sources it rests on: kinds and array:NAME.")
    content_key = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="Digest of what its last hit said (all the fields above): the next analysis compares "
        "it instead of reading them back.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    first_seen = models.DateTimeField()
    first_seen_seq = models.PositiveIntegerField()
    at_least_since = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_seq = models.PositiveIntegerField(null=True, blank=True)
    changed_seq = models.PositiveIntegerField(help_text="The snapshot that last changed this row.")

    objects = FindingQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "fingerprint"], name="one_finding_per_fingerprint")
        ]
        indexes = [models.Index(fields=["cluster", "status", "rule"])]
        ordering = ["cluster", "rule", "fingerprint"]

    def __str__(self):
        return f"{self.rule}: {self.title}"


class FindingNamespace(models.Model):
    """A finding's attributed namespaces as rows, as they are now: what scoping and per-namespace
    views filter on.  An attribution that ends moves to `PastAttribution`."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="attributions")
    namespace = models.CharField(max_length=253)
    since = models.DateTimeField(
        null=True, blank=True, help_text="When it was attributed here; empty: since it was first seen."
    )

    objects = AttributionQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["finding", "namespace"], name="one_attribution")]
        indexes = [models.Index(fields=["namespace", "finding"])]

    def __str__(self):
        return f"{self.finding_id} → {self.namespace}"


class PastAttribution(models.Model):
    """An attribution that ended: the finding concerned `namespace` from `since` until `until`.  With
    the current ones (FindingNamespace) they say which namespaces a finding concerned at any time,
    so a namespace's timeline counts a finding only while it was attributed there."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="past_attributions")
    namespace = models.CharField(max_length=253)
    since = models.DateTimeField(null=True, blank=True, help_text="Empty: since it was first seen.")
    until = models.DateTimeField()

    objects = AttributionQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["namespace", "finding"])]

    def __str__(self):
        return f"{self.finding_id} → {self.namespace} until {self.until:%Y-%m-%d %H:%M}"


class FindingEvent(models.Model):
    """A finding's history: opened, changed, resolved, reopened, suppressed, unsuppressed."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    kind = models.CharField(max_length=24)
    detail = JSONColumn(default=dict, blank=True)

    objects = ThroughFindingQuerySet.as_manager()

    class Meta:
        ordering = ["finding", "at", "pk"]

    def __str__(self):
        return f"{self.finding_id} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """An admin accepted a finding, with a reason, until an expiry, for the evidence as it was then."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="suppressions")
    reason = models.TextField()
    expires_at = models.DateTimeField()
    evidence_key = models.CharField(max_length=32)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    objects = ThroughFindingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"suppression of finding {self.finding_id} until {self.expires_at:%Y-%m-%d}"


class NamespaceStatus(models.Model):
    """A namespace's grade and open-violation counts, stored as changes (valid from / valid to).

    A namespace's row counts its own findings; namespace "" holds the cluster's: those attributed to
    no namespace and the cluster-wide ones (exposure/grades.py).  A quiet week writes nothing; a
    year's timeline is one query over the rows that overlap it.  `grade_since` is when the grade took
    its current letter: a new row whose letter is unchanged (only the counts moved) carries it on.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="namespace_statuses")
    namespace = models.CharField(max_length=253, blank=True)
    grade = models.CharField(max_length=1)
    counts = JSONColumn(default=dict, help_text="severity -> open, unsuppressed violations")
    valid_from = models.PositiveIntegerField()
    valid_to = models.PositiveIntegerField(null=True, blank=True)
    valid_from_at = models.DateTimeField()
    valid_to_at = models.DateTimeField(null=True, blank=True)
    grade_since = models.PositiveIntegerField(help_text="Sequence number since which the letter is this one.")
    grade_since_at = models.DateTimeField(help_text="When the grade took this letter.")

    objects = PerNamespaceQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["cluster", "namespace", "valid_to"])]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace"],
                condition=Q(valid_to__isnull=True),
                name="one_current_status_per_namespace",
            )
        ]

    def __str__(self):
        return f"{self.namespace or '(cluster)'}: {self.grade} from #{self.valid_from}"
