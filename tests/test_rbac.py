"""The RBAC evaluator (exposure/analysis/rbac.py) against Kubernetes' own authorization semantics."""

from types import SimpleNamespace

import pytest

from exposure.analysis.rbac import (
    ADMIN,
    CONTROL_PLANE,
    ORDINARY,
    PLATFORM,
    TRIDENT,
    PolicyRule,
    RbacIndex,
    Subject,
    parse_subject_key,
    selector_matches,
    subject_of,
)
from exposure.analysis.settings import AnalysisSettings

KINDS = {"ClusterRole": "", "Role": None, "ClusterRoleBinding": "", "RoleBinding": None}


class State:
    """The two lookups the index makes of a SnapshotState."""

    def __init__(self, *objects):
        self.objects = {}
        for obj in objects:
            meta = obj["metadata"]
            self.objects.setdefault(obj["kind"], {})[(meta.get("namespace", ""), meta["name"])] = obj

    def of_kind(self, kind):
        return self.objects.get(kind, {})


def rule(groups, resources, verbs, names=None):
    r = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    return {**r, "resourceNames": names} if names else r


def cluster_role(name, rules, labels=None, selectors=None):
    obj = {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def role(namespace, name, rules):
    return {"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": rules}


def binding(name, role_kind, role_name, subjects, namespace=""):
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def user(name):
    return {"kind": "User", "name": name}


def group(name):
    return {"kind": "Group", "name": name}


def sa(namespace, name):
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def index(*objects, settings=None, platform=("kube-system", "trident", "logging")):
    return RbacIndex(State(*objects), settings or AnalysisSettings(), "trident", platform)


def grant_of(idx, subject_key):
    subject = parse_subject_key(subject_key)
    return [g for g in idx.grants if g.subject == subject]


PV_READ = rule([""], ["persistentvolumes"], ["get", "list", "watch"])


# --- rules --------------------------------------------------------------------------------------


def test_wildcards_subresources_and_names():
    anything = PolicyRule.parse(rule(["*"], ["*"], ["*"]))
    assert anything.allows("impersonate", "", "users") and anything.allows("create", "", "pods/exec")
    assert anything.grants_everything
    pods = PolicyRule.parse(rule([""], ["pods"], ["create"]))
    assert pods.allows("create", "", "pods") and not pods.allows("create", "", "pods/exec")
    assert not pods.allows("create", "apps", "pods") and not pods.allows("delete", "", "pods")
    any_exec = PolicyRule.parse(rule([""], ["*/exec"], ["create"]))
    assert any_exec.allows("create", "", "pods/exec") and not any_exec.allows("create", "", "pods")
    named = PolicyRule.parse(rule([""], ["persistentvolumes"], ["get", "list"], ["pv-a"]))
    assert named.allows("get", "", "persistentvolumes", "pv-a")
    assert not named.allows("list", "", "persistentvolumes")  # a list names no object
    assert not named.allows("get", "", "persistentvolumes", "pv-b")
    assert not PolicyRule.parse(rule([""], ["*"], ["get"])).grants_everything


def test_the_grants_on_a_resource_are_every_grant_that_can_allow_anything_on_it():
    idx = index(
        cluster_role("pv-reader", [PV_READ]),
        cluster_role("ns-editor", [rule([""], ["namespaces"], ["patch"], ["team-a"])]),
        cluster_role("everything", [rule(["*"], ["*"], ["*"])]),
        role("team-a", "sub", [rule([""], ["*/status"], ["update"])]),
        role("team-a", "apps", [rule(["apps"], ["namespaces"], ["*"])]),  # another group's resource
        binding("b1", "ClusterRole", "pv-reader", [user("ann"), user("bob")]),
        binding("b2", "ClusterRole", "ns-editor", [user("cid")]),
        binding("b3", "ClusterRole", "everything", [user("dan")]),
        binding("b4", "Role", "sub", [user("eve")], namespace="team-a"),
        binding("b5", "Role", "apps", [user("fay")], namespace="team-a"),
        binding("b6", "ClusterRole", "pv-reader", [user("gus")], namespace="team-a"),
    )
    verbs = ("get", "list", "update", "patch", "create", "delete")
    for group, resource in [
        ("", "persistentvolumes"),
        ("", "namespaces"),
        ("", "pods/status"),
        ("apps", "x"),
    ]:
        allowing = [
            g
            for g in idx.grants
            if any(
                g.permits(v, group, resource, ns, name)
                for v in verbs
                for ns in ("", "team-a")
                for name in ("", "team-a")
            )
        ]
        assert idx.grants_on(group, resource) == allowing, (group, resource)
    assert [g.subject.name for g in idx.grants_on("", "persistentvolumes")] == ["ann", "bob", "dan", "gus"]


def test_non_resource_and_odd_rules_grant_nothing():
    assert PolicyRule.parse({"nonResourceURLs": ["*"], "verbs": ["*"]}) is None
    assert PolicyRule.parse("get everything") is None
    odd = PolicyRule.parse({"resources": ["pods", 7], "verbs": "create", "apiGroups": None})
    assert not odd.allows("create", "", "pods")


@pytest.mark.parametrize(
    "selector, labels, matches",
    [
        ({"matchLabels": {"a": "true"}}, {"a": "true"}, True),
        ({"matchLabels": {"a": "true"}}, {"a": "false"}, False),
        ({}, {"x": "1"}, True),  # an empty selector selects everything, as labels.Everything()
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Near"}]}, {"a": "1"}, False),
        ("a=true", {"a": "true"}, False),
    ],
)
def test_label_selectors(selector, labels, matches):
    assert selector_matches(selector, labels) is matches


# --- aggregation --------------------------------------------------------------------------------


def test_aggregation_filled_not_filled_and_nested():
    agg = "rbac.example.com/aggregate-to-reader"
    idx = index(
        cluster_role("reader", [], selectors=[{"matchLabels": {agg: "true"}}]),  # not yet filled in
        cluster_role("pv-source", [PV_READ], labels={agg: "true", "nested": "yes"}),
        cluster_role("outer", [], selectors=[{"matchLabels": {"outer": "true"}}]),
        cluster_role("middle", [], labels={"outer": "true"}, selectors=[{"matchLabels": {"nested": "yes"}}]),
        cluster_role("filled", [PV_READ], selectors=[{"matchLabels": {"nothing": "here"}}]),
        cluster_role("loop-a", [], labels={"loop": "a"}, selectors=[{"matchLabels": {"loop": "b"}}]),
        cluster_role("loop-b", [rule([""], ["pods"], ["get"])], labels={"loop": "b"}, selectors=[{}]),
    )
    for name in ("reader", "outer", "filled"):
        assert any(r.allows("list", "", "persistentvolumes") for r in idx.cluster_role_rules(name)), name
    assert idx.cluster_role_rules("missing") == ()
    assert any(r.allows("get", "", "pods") for r in idx.cluster_role_rules("loop-a"))  # cycles end
    # `{}` selects every other role, never the role itself
    assert any(r.allows("list", "", "persistentvolumes") for r in idx.cluster_role_rules("loop-b"))


# --- bindings and scope -------------------------------------------------------------------------


def test_scopes_of_bindings():
    idx = index(
        cluster_role(
            "pv-and-pods", [PV_READ, rule([""], ["pods"], ["create"]), rule([""], ["namespaces"], ["patch"])]
        ),
        role("beta", "local-pv", [rule([""], ["persistentvolumes"], ["create"])]),
        binding("everywhere", "ClusterRole", "pv-and-pods", [user("ann")]),
        binding("here", "ClusterRole", "pv-and-pods", [user("ben")], namespace="beta"),
        binding("local", "Role", "local-pv", [user("cid")], namespace="beta"),
        binding("dangling", "ClusterRole", "gone", [user("dan")]),
        binding("cross", "Role", "local-pv", [user("eve")], namespace="alpha"),  # Roles are per namespace
        binding("crb-to-role", "Role", "local-pv", [user("fay")]),
    )
    (ann,) = grant_of(idx, "User:ann")
    assert ann.cluster_wide and ann.permits("list", "", "persistentvolumes")
    assert ann.permits("create", "", "pods", namespace="alpha")
    (ben,) = grant_of(idx, "User:ben")
    assert not ben.permits("list", "", "persistentvolumes")  # cluster-scoped: never through a RoleBinding
    assert ben.permits("create", "", "pods", namespace="beta") and not ben.permits("create", "", "pods")
    # the API server gives a request on a Namespace object that namespace: a RoleBinding reaches its own
    assert ben.permits("patch", "", "namespaces", namespace="beta", name="beta")
    assert not ben.permits("patch", "", "namespaces", namespace="alpha", name="alpha")
    (cid,) = grant_of(idx, "User:cid")
    assert not cid.verbs_on(("create",), "", "persistentvolumes")
    assert grant_of(idx, "User:dan") == grant_of(idx, "User:eve") == grant_of(idx, "User:fay") == []


def test_writes_in_group_names_the_resources():
    idx = index(
        cluster_role(
            "tr",
            [rule(["trident.netapp.io"], ["*"], ["create", "get"]), rule(["*"], ["x"], ["patch"], ["n"])],
        ),
        binding("tr", "ClusterRole", "tr", [user("ann")], namespace="trident"),
    )
    (grant,) = idx.grants
    assert grant.writes_in_group(("create", "patch"), "trident.netapp.io", "trident") == [
        "create trident.netapp.io/*"
    ]
    assert grant.writes_in_group(("create",), "trident.netapp.io", "alpha") == []


# --- subjects -----------------------------------------------------------------------------------


def test_subjects_and_the_groups_that_reach_them():
    assert subject_of(user("system:serviceaccount:alpha:ci")) == Subject("ServiceAccount", "ci", "alpha")
    assert subject_of({"kind": "ServiceAccount", "name": "ci"}, "beta") == Subject(
        "ServiceAccount", "ci", "beta"
    )
    assert subject_of({"kind": "ServiceAccount", "name": "ci"}) is None
    assert subject_of({"kind": "Robot", "name": "r2"}) is None and subject_of(None) is None
    assert parse_subject_key("ServiceAccount:alpha:ci") == Subject("ServiceAccount", "ci", "alpha")
    held = {s.name for s in Subject("ServiceAccount", "ci", "alpha").groups()}
    assert held == {"ci", "system:serviceaccounts:alpha", "system:serviceaccounts", "system:authenticated"}
    assert {s.name for s in Subject("User", "ann").groups()} == {"ann", "system:authenticated"}
    assert Subject("Group", "system:unauthenticated").groups() == {Subject("Group", "system:unauthenticated")}


def test_grants_through_built_in_groups():
    idx = index(
        cluster_role("pv", [PV_READ]),
        binding("sas-of-alpha", "ClusterRole", "pv", [group("system:serviceaccounts:alpha")]),
        binding("everyone", "ClusterRole", "pv", [group("system:authenticated")]),
    )
    reaching = {g.binding for g in idx.grants_reaching(Subject("ServiceAccount", "ci", "alpha"))}
    assert reaching == {"ClusterRoleBinding/sas-of-alpha", "ClusterRoleBinding/everyone"}
    assert {g.binding for g in idx.grants_reaching(Subject("ServiceAccount", "ci", "beta"))} == {
        "ClusterRoleBinding/everyone"
    }


# --- identities ---------------------------------------------------------------------------------


def test_who_is_who():
    settings = AnalysisSettings(
        cluster_admins=("User:listed", "Group:ops"), platform_service_accounts=("monitoring/prometheus",)
    )
    idx = index(
        cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"])]),
        cluster_role("all-powerful", [rule(["*"], ["*"], ["*"])]),
        cluster_role("read-all", [rule(["*"], ["*"], ["get", "list"])]),
        binding("admins", "ClusterRole", "cluster-admin", [user("root"), group("system:authenticated")]),
        binding("power", "ClusterRole", "all-powerful", [user("power")]),
        binding("reader", "ClusterRole", "read-all", [user("reader")]),
        binding("local-admin", "ClusterRole", "cluster-admin", [user("tenant-admin")], namespace="alpha"),
        settings=settings,
    )
    expected = {
        Subject("User", "root"): ADMIN,
        Subject("User", "power"): ADMIN,
        Subject("Group", "system:masters"): ADMIN,
        Subject("User", "listed"): ADMIN,
        Subject("Group", "ops"): ADMIN,
        Subject("Group", "system:authenticated"): ORDINARY,  # everyone is never "the administrators"
        Subject("User", "reader"): ORDINARY,
        Subject("User", "tenant-admin"): ORDINARY,  # cluster-admin in one namespace only
        Subject("User", "system:kube-scheduler"): CONTROL_PLANE,
        Subject("User", "system:node:worker-1"): CONTROL_PLANE,
        Subject("Group", "system:nodes"): CONTROL_PLANE,
        Subject("ServiceAccount", "persistent-volume-binder", "kube-system"): CONTROL_PLANE,
        Subject("ServiceAccount", "trident-operator", "trident"): TRIDENT,
        Subject("Group", "system:serviceaccounts:trident"): TRIDENT,
        Subject("ServiceAccount", "fluent-bit", "logging"): PLATFORM,
        Subject("ServiceAccount", "prometheus", "monitoring"): PLATFORM,
        Subject("ServiceAccount", "ci", "alpha"): ORDINARY,
        Subject("User", "system:node"): ORDINARY,  # not a kubelet's name
    }
    assert {s: idx.classify(s) for s in expected} == expected


def test_odd_objects_never_raise():
    idx = index(
        {
            "kind": "ClusterRole",
            "metadata": {"name": "odd", "labels": "x"},
            "rules": "all",
            "aggregationRule": [],
        },
        {"kind": "ClusterRoleBinding", "metadata": {"name": "no-ref"}, "subjects": [user("a")]},
        {
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "odd"},
            "roleRef": {"kind": "ClusterRole", "name": "odd"},
            "subjects": "everyone",
        },
        {
            "kind": "RoleBinding",
            "metadata": {"name": "x", "namespace": "a"},
            "roleRef": "admin",
            "subjects": [None],
        },
    )
    assert idx.grants == [] and idx.cluster_role_rules("odd") == ()


def test_memoised_per_context():
    from exposure.analysis.rbac import rbac_of

    memo = {}
    ctx = SimpleNamespace(
        state=State(),
        settings=AnalysisSettings(),
        trident_namespace="trident",
        tenancy=SimpleNamespace(platform=frozenset()),
        memo=lambda key, factory: memo.setdefault(key, factory()) if key not in memo else memo[key],
    )
    assert rbac_of(ctx) is rbac_of(ctx)
