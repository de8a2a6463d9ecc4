"""The domain's tables: clusters, their snapshots, the versioned inventory, and who may see what.

History is kept as versions with a validity interval in snapshot sequence numbers: a row is
valid from the snapshot that first saw it (inclusive) to the snapshot that saw it change or
vanish (exclusive, NULL while current).  An unchanged object therefore costs nothing per
snapshot, and "the cluster as it was at snapshot S" is one indexed query.
"""

import re

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q

from inventory.constants import DEFAULT_KUBELET_ROOT, DEFAULT_TRIDENT_NAMESPACE, SEVERITY_CHOICES
from inventory.scope import Scope

# A cluster's name is a URL segment, a file name in dumps and a Celery lock key: a DNS label keeps it
# safe in all three (no dots, slashes, spaces or capitals).
CLUSTER_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def check_cluster_name(name) -> str:
    """`name` when it is a valid cluster name; a ValidationError that says why otherwise."""
    if not isinstance(name, str) or not CLUSTER_NAME.fullmatch(name):
        raise ValidationError(
            f"invalid cluster name {str(name)[:80]!r}: use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (a DNS label, such as prod-eu)"
        )
    return name


# --- Restricting querysets: the one way a reader gets rows ------------------------------------------
# Every model a page, the API, an export or the digest reads has `.restrict(scope)`; a reader passes the
# `Scope` of the person it serves (inventory.access.scope_of).  Admins see every row; anyone else the
# rows of the namespaces they may see, and nothing of what belongs to no namespace they see.

NOTHING = Q(pk__in=[])


def per_cluster(scope: Scope, condition) -> Q:
    """OR over the reader's clusters of `condition(cluster_id, sorted namespace names)`."""
    q = NOTHING
    for cluster_id, names in sorted(scope.namespaces.items()):
        if names:
            q |= condition(cluster_id, sorted(names))
    return q


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, scope: Scope):
        if not isinstance(scope, Scope):  # a user or None here would silently mean someone else's view
            raise TypeError(f"restrict() takes a Scope, not {type(scope).__name__}")
        return self.all() if scope.admin else self.filter(self.scope_condition(scope))

    def scope_condition(self, scope: Scope) -> Q:
        return NOTHING  # admin-only tables: grants, arrays, rule settings


class ClusterQuerySet(RestrictedQuerySet):
    def scope_condition(self, scope):
        return Q(pk__in=sorted(scope.cluster_ids()))


class PerClusterQuerySet(RestrictedQuerySet):
    """Rows of a whole cluster (snapshots): seen by anyone who sees one of its namespaces."""

    def scope_condition(self, scope):
        return Q(cluster_id__in=sorted(scope.cluster_ids()))


class PerNamespaceQuerySet(RestrictedQuerySet):
    """Rows that carry their cluster and namespace ("" = cluster-wide: admins only)."""

    def scope_condition(self, scope):
        return per_cluster(scope, lambda cluster_id, names: Q(cluster_id=cluster_id, namespace__in=names))


class FindingQuerySet(RestrictedQuerySet):
    """A finding is seen by the readers of any namespace it is attributed to (redaction then hides
    the other namespaces' side: inventory/redaction.py)."""

    def scope_condition(self, scope):
        return per_cluster(
            scope,
            lambda cluster_id, names: (
                Q(cluster_id=cluster_id)
                & Exists(FindingNamespace.objects.filter(finding=OuterRef("pk"), namespace__in=names))
            ),
        )


class ThroughFindingQuerySet(RestrictedQuerySet):
    """Events and suppressions: seen with their finding."""

    def scope_condition(self, scope):
        return Q(finding__in=Finding.objects.restrict(scope).values("pk"))


class Cluster(models.Model):
    class Source(models.TextChoices):
        KUBECONFIG = "kubeconfig", "kubeconfig"
        IN_CLUSTER = "in-cluster", "in-cluster service account"
        DEMO = "demo", "built-in simulated demo"
        OFFLINE = "offline", "offline (imported dumps)"

    name = models.SlugField(max_length=63, unique=True)  # check_cluster_name: a DNS label
    source = models.CharField(max_length=16, choices=Source.choices)
    kubeconfig_path = models.CharField(max_length=1024, blank=True)
    context = models.CharField(max_length=253, blank=True)
    interval_minutes = models.PositiveIntegerField(default=15)
    # Trust inputs, read only from Namespace objects under these admin-declared keys.
    tenant_label = models.CharField(
        max_length=317, blank=True, help_text="Empty: each namespace is its own tenant."
    )
    owner_keys = models.JSONField(default=list, blank=True)
    owner_label_trust = models.CharField(
        max_length=16,
        default="admin-only",
        choices=[
            ("admin-only", "only on namespaces no one but administrators may change"),
            ("always", "always (a subject that may change a namespace could name itself its owner)"),
            ("off", "never: owners come from admin RoleBindings and the manual mapping only"),
        ],
        help_text="When an owner key on a Namespace's labels or annotations grants its owner access.",
    )
    platform_namespaces = models.JSONField(
        default=list, blank=True, help_text="Empty: kube-system and Trident's."
    )
    kubelet_root = models.CharField(max_length=1024, default=DEFAULT_KUBELET_ROOT)
    platform_service_accounts = models.JSONField(
        default=list, blank=True, help_text="namespace/name of service accounts whose pods are platform."
    )
    cluster_admins = models.JSONField(
        default=list,
        blank=True,
        help_text="Subjects that are cluster administrators besides cluster-admin's: User:x, Group:x, "
        "ServiceAccount:ns:name.",
    )
    storage_drivers = models.JSONField(
        default=list, blank=True, help_text="Inline CSI drivers that are storage, besides Trident's."
    )
    pod_security_default = models.CharField(
        max_length=16,
        default="privileged",
        choices=[("privileged", "privileged"), ("baseline", "baseline"), ("restricted", "restricted")],
        help_text="The API server's default Pod Security enforce level (AdmissionConfiguration).",
    )
    storage_network_firewalled = models.BooleanField(
        default=False, help_text="Attested: a firewall outside Kubernetes keeps pods off the storage network."
    )
    firewall_attestation = models.TextField(
        blank=True, help_text="Who attested it, when, and on what grounds."
    )
    identity_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Kubernetes names to dashboard names: {"users": {"k8s": "dashboard"}, "groups": {...}}; '
        "unmapped names map to themselves.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        check_cluster_name(self.name)  # every way in (commands, imports, the demo, the admin) passes here
        super().save(*args, **kwargs)

    def clean(self):
        try:
            check_cluster_name(self.name)
        except ValidationError as error:
            raise ValidationError({"name": error.messages}) from None

    @property
    def is_live(self) -> bool:
        return self.source in {self.Source.KUBECONFIG, self.Source.IN_CLUSTER, self.Source.DEMO}

    def effective_platform_namespaces(self, trident_namespace: str = DEFAULT_TRIDENT_NAMESPACE) -> list[str]:
        return list(self.platform_namespaces) or ["kube-system", trident_namespace]

    def latest_visible_snapshot(self):
        return self.snapshots.filter(status__in=Snapshot.VISIBLE).order_by("-seq").first()


class Snapshot(models.Model):
    """One collection run of one cluster."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETE = "complete"
        PARTIAL = "partial"
        FAILED = "failed"

    class Origin(models.TextChoices):
        LIVE = "live"
        DUMP = "dump"

    VISIBLE = (Status.COMPLETE, Status.PARTIAL)

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="snapshots")
    seq = models.PositiveIntegerField(
        help_text="Per-cluster sequence; inventory validity is expressed in it."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.LIVE)
    taken_at = models.DateTimeField(
        help_text="When the cluster was read (the simulator's clock for the demo)."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    schema_version = models.PositiveSmallIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="kind -> objects present")
    unread = models.JSONField(default=dict, blank=True, help_text="kind -> why it was not read")
    facts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    rows_written = models.JSONField(default=dict, blank=True, help_text="inserted / closed / deleted")
    error = models.TextField(blank=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last sent to a worker (the dispatcher's)."
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Runs started (a dead run is restarted)."
    )

    objects = PerClusterQuerySet.as_manager()

    class Meta:
        ordering = ["cluster", "-seq"]
        constraints = [models.UniqueConstraint(fields=["cluster", "seq"], name="snapshot_seq_unique")]
        indexes = [models.Index(fields=["cluster", "status", "-seq"])]

    def __str__(self):
        return f"{self.cluster.name}#{self.seq} ({self.status})"

    @property
    def is_visible(self) -> bool:
        return self.status in self.VISIBLE

    @property
    def analysis_failure(self) -> str:
        """Why this snapshot's analysis is incomplete ("" when it is not): it raised, or rules did.
        Its findings were then held open, not resolved."""
        analysis = (self.facts or {}).get("analysis") or {}
        if analysis.get("error"):
            return str(analysis["error"])
        failed = analysis.get("failed")
        if isinstance(failed, dict):
            return "; ".join(f"rule {slug} failed: {error}" for slug, error in sorted(failed.items()))
        return ""

    def count_summary(self) -> list[tuple[str, int]]:
        """("Kubernetes", objects) then (array, records) for each array read: the snapshot at a glance."""
        totals: dict[str, int] = {}
        for key, count in (self.counts or {}).items():
            source = key.split(":", 1)[0] if ":" in key else "Kubernetes"
            totals[source] = totals.get(source, 0) + count
        return sorted(totals.items(), key=lambda item: (item[0] != "Kubernetes", item[0]))


class ClusterLease(models.Model):
    """Who snapshots a cluster, until when (inventory/lease.py).  Its own row, not the cluster's:
    a heartbeat renews it every few seconds, and an admin saving the cluster must not undo that."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, primary_key=True, related_name="lease")
    holder = models.CharField(max_length=128, blank=True, help_text="host:pid:token of the run; empty: free")
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Free from then on unless renewed.")

    def __str__(self):
        return f"{self.cluster_id}: {self.holder or 'free'} until {self.expires_at}"


class InventoryObjectQuerySet(RestrictedQuerySet):
    def as_of(self, snapshot: Snapshot):
        """The objects of `snapshot`'s cluster as they were when it was taken."""
        return self.filter(cluster_id=snapshot.cluster_id, valid_from__lte=snapshot.seq).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=snapshot.seq)
        )

    def current(self):
        return self.filter(valid_to__isnull=True)

    def scope_condition(self, scope):
        """A namespace's objects and records, the Namespace itself, and the PersistentVolumes its
        claims have bound."""

        def condition(cluster_id, names):
            return Q(cluster_id=cluster_id) & (
                Q(namespace__in=names)
                | Q(scope="", kind="Namespace", name__in=names)
                | Q(scope="", kind="PersistentVolume", data__spec__claimRef__namespace__in=names)
            )

        return per_cluster(scope, condition)


class InventoryObject(models.Model):
    """One version of one object's kept fields (see inventory/kept_fields.py).

    Kubernetes objects have an empty scope; array records (read during the cluster's snapshot,
    through the arrays its Trident backends use) carry the array's name as their scope.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=63, blank=True, help_text="Empty for Kubernetes; else the array.")
    kind = models.CharField(max_length=64)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64, blank=True)
    data = models.JSONField()
    digest = models.CharField(max_length=32, help_text="Hash of the kept fields; equal digest = no change.")
    schema_version = models.PositiveSmallIntegerField()
    valid_from = models.PositiveIntegerField()
    valid_to = models.PositiveIntegerField(null=True, blank=True)

    objects = InventoryObjectQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "scope", "kind", "valid_to"]),
            models.Index(fields=["cluster", "valid_from"]),
            models.Index(fields=["cluster", "namespace", "kind"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "scope", "kind", "namespace", "name"],
                condition=Q(valid_to__isnull=True),
                name="one_current_version_per_object",
            )
        ]

    def __str__(self):
        where = f"{self.namespace}/" if self.namespace else ""
        scope = f"{self.scope}:" if self.scope else ""
        return f"{scope}{self.kind}/{where}{self.name}"


class Array(models.Model):
    """A storage array an admin configured: the only array endpoints the product ever contacts.

    Arrays are global: several Trident backends, of several clusters, may use one.  A backend is
    linked to an array when the management LIF / SVIP Trident records for it is one of the
    array's `trident_addresses`, or when the backend's name or UUID is in `trident_backends`.
    Credentials are a reference (`env:PREFIX` reads PREFIX_USERNAME and PREFIX_PASSWORD; `file:DIR`
    reads DIR/username and DIR/password, as a mounted Kubernetes Secret), never stored here.
    """

    class Kind(models.TextChoices):
        ONTAP = "ontap", "NetApp ONTAP"
        SOLIDFIRE = "solidfire", "NetApp SolidFire / Element"

    name = models.SlugField(max_length=63, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    host = models.CharField(
        max_length=253, help_text="Management address to contact (configured, never discovered)."
    )
    port = models.PositiveIntegerField(null=True, blank=True)
    scheme = models.CharField(max_length=5, default="https", choices=[("https", "https"), ("http", "http")])
    ca_bundle = models.CharField(max_length=1024, blank=True, help_text="PEM file; empty: the system's CAs.")
    verify_tls = models.BooleanField(default=True)
    credentials = models.CharField(max_length=1024, help_text="env:PREFIX or file:/path/to/secret/dir")
    trident_addresses = models.JSONField(default=list, blank=True)
    trident_backends = models.JSONField(default=list, blank=True)
    clusters = models.ManyToManyField(
        Cluster, blank=True, related_name="arrays", help_text="Also read for these clusters (static NFS PVs)."
    )
    enabled = models.BooleanField(default=True)
    demo = models.BooleanField(default=False, editable=False, help_text="Served by the built-in demo.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Grant(models.Model):
    """Lets a non-admin user (directly or through a group) see namespaces of a cluster.

    A grant names either one namespace or a tenant (every namespace whose admin-declared tenant
    label has that value).  Admins (superusers and holders of `view_all_namespaces`) need none.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="grants")
    namespace = models.CharField(max_length=253, blank=True)
    tenant = models.CharField(max_length=253, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="grant_has_exactly_one_grantee",
            ),
            models.CheckConstraint(
                condition=(~Q(namespace="") & Q(tenant="")) | (Q(namespace="") & ~Q(tenant="")),
                name="grant_names_namespace_or_tenant",
            ),
        ]
        permissions = [("view_all_namespaces", "Sees every cluster and namespace (a dashboard admin)")]

    def __str__(self):
        who = self.user or self.group
        what = f"namespace {self.namespace}" if self.namespace else f"tenant {self.tenant}"
        return f"{who} → {self.cluster.name}: {what}"


class RuleSetting(models.Model):
    """An admin's decision about one rule on one cluster: another severity, or off."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="rule_settings")
    rule = models.CharField(max_length=64)
    severity = models.CharField(
        max_length=8, blank=True, choices=SEVERITY_CHOICES, help_text="Empty: default."
    )
    enabled = models.BooleanField(default=True)

    objects = RestrictedQuerySet.as_manager()

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
    identity = models.JSONField(help_text="The stable identities the fingerprint is made of.")
    severity = models.CharField(max_length=8, choices=SEVERITY_CHOICES)
    title = models.TextField()
    detail = models.TextField(blank=True)
    namespaces = models.JSONField(default=list, help_text="Attributed namespaces; empty: the cluster.")
    evidence = models.JSONField(default=dict)
    evidence_key = models.CharField(max_length=32, help_text="Digest of the evidence.")
    paths = models.JSONField(
        default=list, help_text="The paths that explain it (the first MAX_STORED_PATHS)."
    )
    path_count = models.PositiveIntegerField(default=0, help_text="How many paths explain it in all.")
    refs = models.JSONField(default=list, help_text="References of the objects that make it true.")
    depends = models.JSONField(default=list, help_text="Sources it rests on: kinds and array:NAME.")
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
    """A finding's attributed namespaces as rows: what scoping and per-namespace views filter on."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="attributions")
    namespace = models.CharField(max_length=253)

    objects = PerNamespaceQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["finding", "namespace"], name="one_attribution")]
        indexes = [models.Index(fields=["namespace", "finding"])]

    def __str__(self):
        return f"{self.finding_id} → {self.namespace}"


class FindingEvent(models.Model):
    """A finding's history: opened, changed, resolved, reopened, suppressed, unsuppressed."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    kind = models.CharField(max_length=24)
    detail = models.JSONField(default=dict, blank=True)

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

    namespace "" holds the findings attributed to the cluster as a whole.  A quiet week writes
    nothing; a year's timeline is one query over the rows that overlap it.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="namespace_statuses")
    namespace = models.CharField(max_length=253, blank=True)
    grade = models.CharField(max_length=1)
    counts = models.JSONField(default=dict, help_text="severity -> open, unsuppressed violations")
    valid_from = models.PositiveIntegerField()
    valid_to = models.PositiveIntegerField(null=True, blank=True)
    valid_from_at = models.DateTimeField()
    valid_to_at = models.DateTimeField(null=True, blank=True)

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


class NamespaceOwner(models.Model):
    """An owner an admin declared by hand: it wins over what the cluster's objects say."""

    class Kind(models.TextChoices):
        USER = "user"
        GROUP = "group"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="manual_owners")
    namespace = models.CharField(max_length=253)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=253)

    objects = PerNamespaceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "namespace", "kind", "name"], name="one_manual_owner")
        ]

    def __str__(self):
        return f"{self.namespace}: {self.kind} {self.name}"
