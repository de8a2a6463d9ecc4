"""Inventory's tables: clusters, their snapshots, the snapshot lease and the versioned inventory.

History is kept as versions with a validity interval in snapshot sequence numbers: a row is
valid from the snapshot that first saw it (inclusive) to the snapshot that saw it change or
vanish (exclusive, NULL while current).  An unchanged object therefore costs nothing per
snapshot, and "the cluster as it was at snapshot S" is one indexed query.
"""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTransform

from inventory.constants import DEFAULT_KUBELET_ROOT, DEFAULT_PLATFORM_NAMESPACES, DEFAULT_TRIDENT_NAMESPACE
from inventory.json_column import JSONColumn
from tenancy.restrict import ClusterQuerySet, PerClusterQuerySet, RestrictedQuerySet, per_cluster

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
        return list(self.platform_namespaces) or [*DEFAULT_PLATFORM_NAMESPACES, trident_namespace]

    def latest_visible_snapshot(self):
        """Its facts (a document that grows with the cluster: a megabyte at bench scale) are read
        only when asked for: most readers need the sequence number and the time."""
        return self.snapshots.filter(status__in=Snapshot.VISIBLE).order_by("-seq").defer("facts").first()


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


# A PersistentVolume's claim's namespace, as `data__spec__claimRef__namespace` reads it.
PV_CLAIM_NAMESPACE = KeyTransform("namespace", KeyTransform("claimRef", KeyTransform("spec", "data")))


class InventoryObject(models.Model):
    """One version of one object's kept fields (see inventory/kept_fields.py).

    Kubernetes objects have an empty scope; array records (read during the cluster's snapshot,
    through the arrays its Trident backends use) carry the array's name as their scope.
    """

    # No index of its own: every index below starts with the cluster, and each one more is work for
    # every row a first snapshot writes (hundreds of thousands at scale).
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    scope = models.CharField(max_length=63, blank=True, help_text="Empty for Kubernetes; else the array.")
    kind = models.CharField(max_length=64)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64, blank=True)
    data = JSONColumn()
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
            # A namespace's page finds the PVs its claims hold by their claimRef: without this, every
            # PV of the cluster is decoded (50,000 at the bench scale).
            models.Index(
                "cluster",
                PV_CLAIM_NAMESPACE,
                name="pv_by_claim_namespace",
                condition=Q(kind="PersistentVolume", scope=""),
            ),
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
