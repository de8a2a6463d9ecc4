"""Kubernetes RBAC as the API server evaluates it: who may do what, where, and who they are.

`rbac_of(ctx)` builds one `RbacIndex` per snapshot (cached with `ctx.memo`).  It follows the
authorizer's own semantics, never names:

- A ClusterRole's effective rules are its own `rules` (which the aggregation controller fills in)
  united with the effective rules of every other ClusterRole its `aggregationRule.clusterRoleSelectors`
  select (`matchLabels` and `matchExpressions`; an empty selector selects every role), so an
  aggregated role the controller has not filled in yet still counts.
- `*` matches any verb, API group and resource (subresources included); `*/sub` matches any
  resource's subresource `sub`; `pods` does not match `pods/exec`.
- A rule with `resourceNames` matches requests for those named objects only: never a list, a watch
  or a create of all.  `nonResourceURLs` rules grant nothing on resources and are ignored.
- A ClusterRoleBinding grants cluster-wide; a RoleBinding (to a Role or a ClusterRole) grants only
  requests in its own namespace, so it never grants cluster-scoped resources (`persistentvolumes`,
  `namespaces` lists, creates) — except that a request on the Namespace object itself carries that
  namespace (the API server's request info sets it), so a RoleBinding in X that allows `patch
  namespaces` lets its subjects patch namespace X.  A binding whose role does not exist grants nothing.
- Subjects are matched by name: `User`, `Group`, `ServiceAccount` (a User named
  `system:serviceaccount:NS:NAME` is that service account).  `system:authenticated` holds every
  authenticated subject, `system:serviceaccounts` every service account, `system:serviceaccounts:NS`
  those of NS: a grant to these groups reaches tenant subjects.

Identities (rules.md, "Identities"):

- cluster administrator: bound by a ClusterRoleBinding, under its own name, to `cluster-admin` or to
  a role that grants `*` verbs on `*` resources of `*` groups; the group `system:masters`; any subject
  in `settings.cluster_admins`.  The everyone-groups above are never administrators: a grant of
  everything to them is the very exposure the rules look for.
- control plane: the users `system:kube-controller-manager`, `system:kube-scheduler`,
  `system:kube-proxy`, `system:apiserver`, `system:konnectivity-server`, `system:node:*` (kubelets),
  the group `system:nodes`, and the service accounts of `kube-system` (the controllers run as them
  with `--use-service-account-credentials`, bound to the `system:controller:*` roles).
- Trident: the service accounts of the Trident namespace (controller, node plugins, operator).
- platform: service accounts in a platform namespace, or listed by the admin as platform.
"""

from dataclasses import dataclass, field
from functools import cached_property

from exposure.analysis.paths import Actor, Hop
from inventory.constants import KUBERNETES_SYSTEM_NAMESPACES
from inventory.refs import EVERYONE, OUTSIDE, k8s_ref

AUTHENTICATED, UNAUTHENTICATED = "system:authenticated", "system:unauthenticated"
ALL_SERVICE_ACCOUNTS, SERVICE_ACCOUNTS_OF = "system:serviceaccounts", "system:serviceaccounts:"
MASTERS = "system:masters"
SA_USER_PREFIX = "system:serviceaccount:"

CONTROL_PLANE_USERS = frozenset(
    {
        "system:kube-controller-manager",
        "system:kube-scheduler",
        "system:kube-proxy",
        "system:apiserver",
        "system:konnectivity-server",
    }
)
CONTROL_PLANE_GROUPS = frozenset({"system:nodes"})
NODE_USER_PREFIX = "system:node:"
CONTROL_PLANE_NAMESPACE = "kube-system"

# What a subject is, for the rules: administrators and the control plane are expected to hold power;
# Trident and platform identities are shown as paths but raise no violation.
ADMIN, CONTROL_PLANE, TRIDENT, PLATFORM, ORDINARY = "admin", "control-plane", "trident", "platform", "subject"


@dataclass(frozen=True, order=True)
class Subject:
    kind: str  # User | Group | ServiceAccount
    name: str
    namespace: str = ""  # service accounts only

    @property
    def key(self) -> str:
        """The admin's notation (settings.cluster_admins) and a finding's identity part."""
        if self.kind == "ServiceAccount":
            return f"ServiceAccount:{self.namespace}:{self.name}"
        return f"{self.kind}:{self.name}"

    @property
    def label(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        if self.kind == "Group" and self.name == AUTHENTICATED:
            return f"Group {self.name} (everyone)"
        if self.kind == "Group" and self.name == UNAUTHENTICATED:
            return f"Group {self.name} (everyone without credentials)"
        return f"{self.kind} {self.name}"

    @property
    def is_everyone_group(self) -> bool:
        """A group Kubernetes fills itself, beyond any admin's choice of members."""
        return self.kind == "Group" and (
            self.name in (AUTHENTICATED, UNAUTHENTICATED, ALL_SERVICE_ACCOUNTS)
            or self.name.startswith(SERVICE_ACCOUNTS_OF)
        )

    def groups(self) -> set["Subject"]:
        """The subjects whose grants reach this one: itself and the built-in groups that hold it."""
        held = {self}
        if self.kind == "ServiceAccount":
            held |= {
                Subject("Group", SERVICE_ACCOUNTS_OF + self.namespace),
                Subject("Group", ALL_SERVICE_ACCOUNTS),
            }
        elif self.kind == "Group" and self.name.startswith(SERVICE_ACCOUNTS_OF):
            held.add(Subject("Group", ALL_SERVICE_ACCOUNTS))
        if not (self.kind == "Group" and self.name in (AUTHENTICATED, UNAUTHENTICATED)):
            held.add(Subject("Group", AUTHENTICATED))
        return held


def subject_of(raw, binding_namespace: str = "") -> Subject | None:
    """A binding's subject entry, or None when it is not one Kubernetes would match."""
    if not isinstance(raw, dict):
        return None
    kind, name, namespace = raw.get("kind"), raw.get("name"), raw.get("namespace")
    if not isinstance(name, str) or not name:
        return None
    if kind == "ServiceAccount":
        namespace = namespace if isinstance(namespace, str) and namespace else binding_namespace
        return Subject("ServiceAccount", name, namespace) if namespace else None
    if kind == "User" and name.startswith(SA_USER_PREFIX):
        parts = name.removeprefix(SA_USER_PREFIX).split(":")
        if len(parts) == 2 and all(parts):
            return Subject("ServiceAccount", parts[1], parts[0])
    if kind in ("User", "Group"):
        return Subject(kind, name)
    return None


def parse_subject_key(key: str) -> Subject | None:
    """`User:x`, `Group:x`, `ServiceAccount:ns:name` (settings.cluster_admins)."""
    kind, _, rest = str(key).partition(":")
    if kind == "ServiceAccount":
        namespace, _, name = rest.partition(":")
        return Subject(kind, name, namespace) if namespace and name else None
    return subject_of({"kind": kind, "name": rest})


def _strings(value) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str))


@dataclass(frozen=True)
class PolicyRule:
    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, raw) -> "PolicyRule | None":
        """None for non-resource rules and odd entries: they grant nothing on resources."""
        if not isinstance(raw, dict) or not isinstance(raw.get("resources"), list):
            return None
        return cls(
            _strings(raw.get("verbs")),
            _strings(raw.get("apiGroups")),
            _strings(raw.get("resources")),
            _strings(raw.get("resourceNames")),
        )

    def allows_verb(self, verb: str) -> bool:
        return "*" in self.verbs or verb in self.verbs

    def allows_group(self, group: str) -> bool:
        return "*" in self.api_groups or group in self.api_groups

    def allows_resource(self, resource: str) -> bool:
        if "*" in self.resources or resource in self.resources:
            return True
        _, slash, subresource = resource.partition("/")
        return bool(slash) and f"*/{subresource}" in self.resources

    def allows_name(self, name: str) -> bool:
        return not self.resource_names or (bool(name) and name in self.resource_names)

    def allows(self, verb: str, group: str, resource: str, name: str = "") -> bool:
        return (
            self.allows_verb(verb)
            and self.allows_group(group)
            and self.allows_resource(resource)
            and self.allows_name(name)
        )

    @property
    def grants_everything(self) -> bool:
        return (
            {"*"} <= self.verbs
            and {"*"} <= self.api_groups
            and {"*"} <= self.resources
            and not (self.resource_names)
        )


@dataclass(frozen=True)
class Grant:
    """One subject's share of one binding: what it may do, and where."""

    subject: Subject
    binding: str  # reference of the RoleBinding or ClusterRoleBinding
    role: str  # reference of the Role or ClusterRole it names
    namespace: str  # "" : cluster-wide (ClusterRoleBinding); else the RoleBinding's namespace
    rules: tuple[PolicyRule, ...] = field(compare=False)

    @property
    def cluster_wide(self) -> bool:
        return not self.namespace

    def permits(self, verb: str, group: str, resource: str, namespace: str = "", name: str = "") -> bool:
        """Would the authorizer allow this request?  `namespace` is the request's ("" for a
        cluster-scoped object or a request across all namespaces), `name` the object's ("" for list,
        watch, create)."""
        if self.namespace and self.namespace != namespace:
            return False
        return any(rule.allows(verb, group, resource, name) for rule in self.rules)

    def verbs_on(self, verbs, group: str, resource: str, namespace: str = "", name: str = "") -> list[str]:
        return [v for v in verbs if self.permits(v, group, resource, namespace, name)]

    def writes_in_group(self, verbs, group: str, namespace: str = "") -> list[str]:
        """`verb group/resource` for every resource of `group` the grant lets one write in
        `namespace`, as the role names them (`*` included); named-object rules left out."""
        if self.namespace and self.namespace != namespace:
            return []
        found = set()
        for rule in self.rules:
            if rule.resource_names or not rule.allows_group(group):
                continue
            for verb in verbs:
                if rule.allows_verb(verb):
                    found |= {f"{verb} {group}/{resource}" for resource in rule.resources}
        return sorted(found)


def selector_matches(selector, labels: dict) -> bool:
    """A metav1.LabelSelector against labels; a malformed selector matches nothing."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return False
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    for expression in expressions:
        if not isinstance(expression, dict):
            return False
        key, operator = expression.get("key"), expression.get("operator")
        if not isinstance(key, str):
            return False
        values = _strings(expression.get("values"))
        value = labels.get(key)  # a label value that is not text equals no listed value
        if operator == "In":
            ok = isinstance(value, str) and value in values
        elif operator == "NotIn":
            ok = not isinstance(value, str) or value not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            return False
        if not ok:
            return False
    return True


def _labels(obj: dict) -> dict:
    labels = (obj.get("metadata") or {}).get("labels") if isinstance(obj.get("metadata"), dict) else None
    return labels if isinstance(labels, dict) else {}


def _rules(obj: dict) -> list[PolicyRule]:
    raw = obj.get("rules")
    return [r for r in (PolicyRule.parse(x) for x in raw) if r] if isinstance(raw, list) else []


class RbacIndex:
    def __init__(self, state, settings=None, trident_namespace: str = "", platform_namespaces=()):
        self.state = state
        self.trident_namespace = trident_namespace
        self.platform_namespaces = frozenset(platform_namespaces)
        self.platform_accounts = frozenset((settings.platform_service_accounts if settings else ()) or ())
        self.listed_admins = {
            s
            for s in (parse_subject_key(k) for k in (settings.cluster_admins if settings else ()) or ())
            if s
        }
        self.cluster_roles = {
            name: data for (_, name), data in state.of_kind("ClusterRole").items() if isinstance(data, dict)
        }
        self.roles = {key: data for key, data in state.of_kind("Role").items() if isinstance(data, dict)}
        self._effective: dict[str, tuple[PolicyRule, ...]] = {}
        self._grants_on: dict[tuple[str, str], list[Grant]] = {}

    # --- roles --------------------------------------------------------------------------------

    def cluster_role_rules(self, name: str, _seen: frozenset = frozenset()) -> tuple[PolicyRule, ...]:
        """Own rules plus those of every ClusterRole its aggregation selects (recursively)."""
        if name in self._effective:
            return self._effective[name]
        role = self.cluster_roles.get(name)
        if role is None:
            return ()
        rules = list(_rules(role))
        aggregation = role.get("aggregationRule")
        selectors = aggregation.get("clusterRoleSelectors") if isinstance(aggregation, dict) else None
        for selector in selectors if isinstance(selectors, list) else []:
            for other, data in sorted(self.cluster_roles.items()):
                if other == name or other in _seen or not selector_matches(selector, _labels(data)):
                    continue
                rules.extend(self.cluster_role_rules(other, _seen | {name}))
        result = tuple(dict.fromkeys(rules))
        if not _seen:  # results computed inside a cycle guard may be partial: cache only the roots
            self._effective[name] = result
        return result

    def role_rules(self, kind: str, name: str, namespace: str) -> tuple[PolicyRule, ...] | None:
        """None when the role does not exist (its bindings grant nothing)."""
        if kind == "ClusterRole":
            return self.cluster_role_rules(name) if name in self.cluster_roles else None
        if kind == "Role" and namespace:
            role = self.roles.get((namespace, name))
            return tuple(_rules(role)) if role is not None else None
        return None

    # --- bindings -----------------------------------------------------------------------------

    @cached_property
    def grants(self) -> list[Grant]:
        found = []
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            for (namespace, name), binding in sorted(self.state.of_kind(kind).items()):
                if not isinstance(binding, dict):
                    continue
                scope = namespace if kind == "RoleBinding" else ""
                if kind == "RoleBinding" and not scope:
                    continue
                ref = binding.get("roleRef")
                if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
                    continue
                role_kind = ref.get("kind")
                if kind == "ClusterRoleBinding" and role_kind != "ClusterRole":
                    continue  # the API rejects it; were it stored, it would grant nothing
                rules = self.role_rules(role_kind, ref["name"], scope)
                if rules is None:
                    continue
                role_ref = k8s_ref(role_kind, ref["name"], scope if role_kind == "Role" else "")
                subjects = binding.get("subjects")
                for raw in subjects if isinstance(subjects, list) else []:
                    subject = subject_of(raw, scope)
                    if subject:
                        found.append(Grant(subject, k8s_ref(kind, name, scope), role_ref, scope, rules))
        return found

    def grants_on(self, group: str, resource: str) -> list[Grant]:
        """The grants with a rule on `resource` of `group` (whatever verbs, names or namespace), in
        `grants`' order: the only ones that can allow anything on it.  Most of a large cluster's tens
        of thousands of grants are about other resources; a rule asking about one skips them."""
        key = (group, resource)
        if key not in self._grants_on:
            on: dict[int, bool] = {}  # rules shared by grants (a ClusterRole's) are looked at once
            found = []
            for grant in self.grants:
                if (answer := on.get(id(grant.rules))) is None:
                    answer = on[id(grant.rules)] = any(
                        rule.allows_group(group) and rule.allows_resource(resource) for rule in grant.rules
                    )
                if answer:
                    found.append(grant)
            self._grants_on[key] = found
        return self._grants_on[key]

    def grants_reaching(self, subject: Subject) -> list[Grant]:
        """Every grant that applies to `subject`, directly or through a built-in group."""
        held = subject.groups()
        return [g for g in self.grants if g.subject in held]

    # --- who is who ---------------------------------------------------------------------------

    @cached_property
    def administrators(self) -> frozenset[Subject]:
        admins = set(self.listed_admins) | {Subject("Group", MASTERS)}
        for grant in self.grants:
            if not grant.cluster_wide or grant.subject.is_everyone_group:
                continue
            if grant.role == "ClusterRole/cluster-admin" or any(r.grants_everything for r in grant.rules):
                admins.add(grant.subject)
        return frozenset(admins)

    def is_control_plane(self, subject: Subject) -> bool:
        if subject.kind == "User":
            return subject.name in CONTROL_PLANE_USERS or subject.name.startswith(NODE_USER_PREFIX)
        if subject.kind == "Group" and subject.name in CONTROL_PLANE_GROUPS:
            return True
        return _accounts_namespace(subject) == CONTROL_PLANE_NAMESPACE

    def classify(self, subject: Subject) -> str:
        """ADMIN, CONTROL_PLANE, TRIDENT, PLATFORM or ORDINARY (a tenant or anyone else)."""
        if subject in self.administrators:
            return ADMIN
        if self.is_control_plane(subject):
            return CONTROL_PLANE
        accounts_of = _accounts_namespace(subject)
        if accounts_of and accounts_of == self.trident_namespace:
            return TRIDENT
        if accounts_of in self.platform_namespaces or (
            subject.kind == "ServiceAccount"
            and f"{subject.namespace}/{subject.name}" in self.platform_accounts
        ):
            return PLATFORM
        return ORDINARY


def _accounts_namespace(subject: Subject) -> str:
    """The namespace whose service accounts the subject is (one of): "" for users and other groups."""
    if subject.kind == "ServiceAccount":
        return subject.namespace
    if subject.kind == "Group" and subject.name.startswith(SERVICE_ACCOUNTS_OF):
        return subject.name.removeprefix(SERVICE_ACCOUNTS_OF)
    return ""


def rbac_of(ctx) -> RbacIndex:
    """The snapshot's RBAC index, built once per context."""
    return ctx.memo(
        "rbac",
        lambda: RbacIndex(ctx.state, ctx.settings, ctx.trident_namespace, ctx.tenancy.platform),
    )


def subject_tenant(ctx, subject: Subject, bound_in: list[str] = ()) -> str:
    """The tenant an acting subject belongs to: a service account's namespace's, an everyone-group's
    EVERYONE, else the tenant of the namespaces it is bound in when they agree, else OUTSIDE."""
    if subject.kind == "ServiceAccount":
        return ctx.tenancy.tenant_of(subject.namespace)
    if subject.kind == "Group" and subject.name.startswith(SERVICE_ACCOUNTS_OF):
        return ctx.tenancy.tenant_of(subject.name.removeprefix(SERVICE_ACCOUNTS_OF))
    if subject.is_everyone_group:
        return EVERYONE
    tenants = {ctx.tenancy.tenant_of(ns) for ns in bound_in}
    return tenants.pop() if len(tenants) == 1 else OUTSIDE


def subject_actor(ctx, subject: Subject, kind: str, bound_in: list[str] = ()) -> Actor:
    return Actor("subject", subject.label, subject_tenant(ctx, subject, bound_in), platform=kind != ORDINARY)


def grant_hops(grant: Grant, granted: list[str]) -> list[Hop]:
    """The binding that names the subject, then the role that grants the verbs."""
    where = f"in namespace {grant.namespace}" if grant.namespace else "cluster-wide"
    return [
        Hop(grant.binding, f"subjects: {grant.subject.label}, {where}"),
        Hop(grant.role, "grants " + ", ".join(granted)),
    ]


def reachable_namespaces(ctx) -> list[str]:
    """Every namespace of the snapshot that can hold data (Kubernetes' bookkeeping ones cannot)."""
    return sorted(n for n in ctx.tenancy.namespaces if n not in KUBERNETES_SYSTEM_NAMESPACES)


def inside_tenant(ctx, actor: Actor, namespace: str) -> bool:
    return actor.tenant not in (EVERYONE, OUTSIDE) and actor.tenant == ctx.tenancy.tenant_of(namespace)
