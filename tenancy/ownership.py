"""Who owns each namespace, and where each owner came from.

Sources, in the order a page lists them:
- the admin-declared owner keys on the Namespace object (an annotation or label holding an email or
  user name, or a group).  A key is read as a group when declared `group:<key>` or when its name says
  group (`owner.example.com/group`); `user:<key>` forces a user.  Values may be comma-separated.
- RoleBindings inside the namespace to an admin-like role (`admin`, `cluster-admin`, or a role
  granting every verb on every resource): their User and Group subjects.
- the admin's manual mapping (NamespaceOwner rows), which wins: when a namespace has one, it replaces
  the others.
The cluster-derived owners are computed with each analysed snapshot (they are in its facts); the
manual mapping is read live.  Kubernetes names map to dashboard users and groups through the
cluster's `identity_mapping`, else by the same name (a user also by email).

Ownership from a label or annotation must not be self-granted: whoever may change the Namespace
(the `namespace-labels-writable` rule's subjects) could write themselves in.  Each such owner
carries the subjects that could have forged it, and the cluster's `owner_label_trust` decides:
`admin-only` (the default) trusts it only on namespaces that no one but administrators may change,
which is to say created and last changed by administrators (Kubernetes records no author, RBAC
says who could have been one); `always` trusts it anyway; `off` never reads owners from labels.
"""

from dataclasses import dataclass

from django.db.models import Func, JSONField
from django.db.models.fields.json import KeyTransform

from inventory.fields import as_list, as_mapping, as_text
from inventory.models import Cluster, Snapshot
from inventory.state import SnapshotState
from tenancy.models import NamespaceOwner
from tenancy.snapshot_cache import derived, latest_visible

ADMIN_LIKE_ROLES = frozenset({"admin", "cluster-admin"})


TRUST_ADMIN_ONLY, TRUST_ALWAYS, TRUST_OFF = "admin-only", "always", "off"


@dataclass(frozen=True)
class Owner:
    kind: str  # user | group
    name: str  # as Kubernetes (or the admin) names it
    source: str  # "annotation owner.example.com/email", "RoleBinding team-a/admins (admin)", "manual"
    forgeable_by: tuple[str, ...] = ()  # subjects that may change the label or annotation it came from
    trusted: bool = True  # False: shown with why, but it grants no access (owner_label_trust)

    def as_facts(self) -> dict:
        """As a snapshot's facts keep it (`dataclasses.asdict` copies recursively: a tenth of a
        second for the bench's 6,000 owners, each snapshot)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
            "forgeable_by": list(self.forgeable_by),
            "trusted": self.trusted,
        }

    @classmethod
    def from_facts(cls, data: dict) -> "Owner":
        return cls(**{**data, "forgeable_by": tuple(data.get("forgeable_by") or ())})


def _key_kind(declared: str) -> tuple[str, str]:
    prefix, sep, key = declared.partition(":")
    if sep and prefix in ("user", "group"):
        return prefix, key
    return ("group" if "group" in declared.rsplit("/", 1)[-1].lower() else "user"), declared


def _grants_everything(role: dict) -> bool:
    return any(
        "*" in as_list(rule.get("verbs")) and "*" in as_list(rule.get("resources"))
        for rule in as_list(role.get("rules"))
        if isinstance(rule, dict)
    )


def derived_owners(
    state: SnapshotState,
    owner_keys: list[str],
    forgers: dict[str, list[str]] | None = None,
    trust: str = TRUST_ADMIN_ONLY,
) -> dict[str, list[dict]]:
    """namespace -> owners read from the cluster's objects (as dicts, for a snapshot's facts).
    `forgers`: namespace -> the non-admin subjects that may change it (namespace-labels-writable)."""
    owners: dict[str, list[Owner]] = {}
    forgers = forgers or {}
    for (_, namespace), data in state.of_kind("Namespace").items():
        metadata = as_mapping(data.get("metadata"))
        found = []
        forgeable_by = tuple(sorted(forgers.get(namespace) or ()))
        trusted = trust == TRUST_ALWAYS or (trust == TRUST_ADMIN_ONLY and not forgeable_by)
        for declared in owner_keys if trust != TRUST_OFF else ():
            kind, key = _key_kind(declared)
            for where in ("annotations", "labels"):
                value = as_mapping(metadata.get(where)).get(key)
                if isinstance(value, str):
                    where_text = where[:-1]
                    found += [
                        Owner(kind, v.strip(), f"{where_text} {key}", forgeable_by, trusted)
                        for v in value.split(",")
                        if v.strip()
                    ]
        owners[namespace] = found
    for (namespace, name), binding in state.of_kind("RoleBinding").items():
        ref = as_mapping(binding.get("roleRef"))
        role_name = as_text(ref.get("name"))
        role = (
            state.get("Role", role_name, namespace)
            if ref.get("kind") == "Role"
            else state.get("ClusterRole", role_name)
        )
        if not (role_name in ADMIN_LIKE_ROLES and ref.get("kind") == "ClusterRole") and not (
            role and _grants_everything(role)
        ):
            continue
        for subject in as_list(binding.get("subjects")):
            if (
                isinstance(subject, dict)
                and subject.get("kind") in ("User", "Group")
                and as_text(subject.get("name"))
            ):
                owners.setdefault(namespace, []).append(
                    Owner(
                        subject["kind"].lower(),
                        subject["name"],
                        f"RoleBinding {namespace}/{name} ({role_name})",
                    )
                )
    return {ns: [o.as_facts() for o in dict.fromkeys(found)] for ns, found in owners.items() if found}


class _Entries(Func):
    """A JSON object's entries of the keys `names` only, picked by PostgreSQL (the owners of a page's
    fifty namespaces, not a megabyte of every namespace's decoded for them); other databases hand
    the object whole, and the caller keeps the same entries."""

    output_field = JSONField()

    def __init__(self, expression, names: list[str]):
        super().__init__(expression)
        self.names = sorted(names)

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = super().as_sql(compiler, connection, template=self.PICKED, **extra_context)
        return sql, (*params, self.names)  # a namespace may have any name: a parameter, never SQL

    PICKED = (
        "(SELECT jsonb_object_agg(entry.key, entry.value) FROM jsonb_each(%(expressions)s) AS entry"
        " WHERE entry.key = ANY(%%s))"
    )


def owners_of(
    cluster: Cluster, namespace: str | None = None, only: list[str] | None = None
) -> dict[str, list[Owner]]:
    """namespace -> owners, the manual mapping winning, as of the latest analysed snapshot; of
    `namespace` only, or of the namespaces `only`, when given (a page need not read every
    namespace's owners)."""
    if namespace is not None:
        only = [namespace]
    # Only the owners of the snapshot's facts (of the namespaces asked for): the whole is large at scale.
    # A namespace may have any name: a key of the path (a parameter), never part of the SQL.
    kept = KeyTransform("owners", KeyTransform("analysis", "facts"))
    if namespace is not None:
        kept = KeyTransform(namespace, kept)
    elif only is not None:
        kept = _Entries(kept, only)
    derived = (
        cluster.snapshots.filter(status__in=Snapshot.VISIBLE)
        .order_by("-seq")
        .annotate(kept=kept)
        .values_list("kept", flat=True)
        .first()
    )
    if namespace is not None:
        derived = {namespace: derived} if derived else {}
    elif only is not None:
        wanted = set(only)
        derived = {ns: found for ns, found in (derived or {}).items() if ns in wanted}
    owners = {ns: [Owner.from_facts(o) for o in found] for ns, found in (derived or {}).items()}
    manual: dict[str, list[Owner]] = {}
    rows = NamespaceOwner.objects.filter(cluster=cluster)
    for row in rows if only is None else rows.filter(namespace__in=sorted(only)):
        manual.setdefault(row.namespace, []).append(Owner(row.kind, row.name, "manual"))
    owners.update(manual)
    return owners


def dashboard_name(cluster: Cluster, owner: Owner) -> str:
    mapping = (cluster.identity_mapping or {}).get("users" if owner.kind == "user" else "groups") or {}
    return mapping.get(owner.name, owner.name)


def owned_namespaces(user, cluster: Cluster, owners: dict[str, list[Owner]] | None = None) -> set[str]:
    """The namespaces of `cluster` whose owners include `user` or one of the user's groups
    (`owners`: the cluster's `owners_of`, when the caller read it already)."""
    names = {user.get_username()} | ({user.email} if user.email else set())
    groups = set(user.groups.values_list("name", flat=True))
    if owners is not None:
        return _owned_by(cluster, names, groups, owners)
    return _owned_by_index(cluster, names, groups)


def _derived_index(cluster: Cluster) -> dict[str, dict[str, list[str]]]:
    """kind -> Kubernetes owner name -> the namespaces it owns, of the trusted cluster-derived owners
    of the latest visible snapshot (before the manual mapping and the identity mapping)."""
    latest = latest_visible(cluster)
    if latest is None:
        return {}

    def compute():
        facts = (
            Snapshot.objects.filter(pk=latest["pk"])
            .annotate(kept=KeyTransform("owners", KeyTransform("analysis", "facts")))
            .values_list("kept", flat=True)
            .first()
        )
        index: dict[str, dict[str, list[str]]] = {"user": {}, "group": {}}
        for namespace, found in (facts or {}).items():
            for owner in map(Owner.from_facts, found):
                if owner.trusted and owner.kind in index:
                    index[owner.kind].setdefault(owner.name, []).append(namespace)
        return index

    return derived(cluster, latest, "owner-index", compute)


def _owned_by_index(cluster: Cluster, names: set[str], groups: set[str]) -> set[str]:
    """`_owned_by` over `owners_of(cluster)`, without decoding every namespace's owners: the derived
    owners from the per-snapshot index, the manual mapping (which changes without a snapshot) read
    live and winning wherever it names an owner."""
    mapping = cluster.identity_mapping or {}
    wanted = {"user": names, "group": groups}
    owned: set[str] = set()
    index = _derived_index(cluster)
    for kind, dashboard_names in wanted.items():
        kind_mapping = mapping.get("users" if kind == "user" else "groups") or {}
        for name, namespaces in index.get(kind, {}).items():
            if kind_mapping.get(name, name) in dashboard_names:
                owned.update(namespaces)
    manual: dict[str, bool] = {}
    for row in NamespaceOwner.objects.filter(cluster=cluster).values("namespace", "kind", "name"):
        kind_mapping = mapping.get("users" if row["kind"] == "user" else "groups") or {}
        mapped = kind_mapping.get(row["name"], row["name"])
        mine = mapped in wanted.get(row["kind"], ())
        manual[row["namespace"]] = manual.get(row["namespace"], False) or mine
    return (owned - manual.keys()) | {namespace for namespace, mine in manual.items() if mine}


def owned_namespaces_of_address(address: str, cluster: Cluster, owners=None) -> set[str]:
    """The namespaces of `cluster` a bare email address owns (an owner key or a manual owner naming
    it, as a user): the digest's scope for an owner without a dashboard account."""
    return _owned_by(cluster, {normalise_address(address)}, set(), owners, normalise=normalise_address)


def normalise_address(address: str) -> str:
    """An email address as compared and stored: its domain is case-insensitive, its local part not."""
    local, at, domain = address.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if at else address.strip()


def _owned_by(cluster: Cluster, names: set[str], groups: set[str], owners=None, normalise=str) -> set[str]:
    owned = set()
    for namespace, found in (owners_of(cluster) if owners is None else owners).items():
        for owner in found:
            if not owner.trusted:
                continue
            mapped = dashboard_name(cluster, owner)
            if (owner.kind == "user" and normalise(mapped) in names) or (
                owner.kind == "group" and mapped in groups
            ):
                owned.add(namespace)
    return owned
