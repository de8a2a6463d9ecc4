"""Guideline 2's helpers and rules on hand-built pods: path normalisation, capabilities, Pod Security
levels, rollout-stable identities, odd input, and the platform DaemonSet's kept paths."""

from types import SimpleNamespace

import pytest

from exposure.analysis.context import Context
from exposure.analysis.node_escape import host_path_reach, normalise_capability, normalise_host_path
from exposure.analysis.settings import AnalysisSettings
from exposure.rules import RULES
from exposure.rules.namespace_admits_privileged import enforce_level
from inventory.state import SnapshotState
from tests.cases.runner import CASES, run_case

NODE_RULES = (
    "privileged-container",
    "host-path-volume",
    "host-namespace-escape",
    "host-network",
    "namespace-admits-privileged",
)
KUBELET = "/var/lib/kubelet"


@pytest.mark.parametrize(
    "raw, normalised",
    [
        ("/var/lib/kubelet/pods", "/var/lib/kubelet/pods"),
        ("//var/lib/kubelet/", "/var/lib/kubelet"),
        ("/var/log/../lib/./kubelet//pods/", "/var/lib/kubelet/pods"),
        ("/../../etc", "/etc"),
        ("/", "/"),
        ("///", "/"),
        ("var/lib", "/var/lib"),
        ("", None),
        (None, None),
        (["/"], None),
    ],
)
def test_host_paths_normalise_as_the_kernel_resolves_them(raw, normalised):
    assert normalise_host_path(raw) == normalised


@pytest.mark.parametrize(
    "path, reaches",
    [
        ("/", True),
        ("/var", True),  # an ancestor of the kubelet root
        ("/var/lib", True),
        ("/var/lib/kubelet", True),
        ("/var/lib/kubelet/pods", True),
        ("/dev", True),
        ("/dev/sdb", True),
        ("/proc/1/root", True),
        ("/run/containerd/containerd.sock", True),
        ("/var/run/containerd/containerd.sock", True),  # /var/run is /run
        ("/var/lib/kubelet-backup", False),  # a sibling, not inside
        ("/var/log", False),
        ("/srv/cache", False),
        ("/device", False),
        ("/etc/kubernetes/pki", False),
    ],
)
def test_which_host_paths_reach_the_nodes_volume_mounts(path, reaches):
    assert bool(host_path_reach(path, KUBELET)) is reaches


def test_the_kubelet_root_is_the_admins_setting_and_is_normalised_too():
    assert host_path_reach("/data", "/data/kubelet/")
    assert host_path_reach("/data/kubelet/pods", "//data/kubelet")
    assert not host_path_reach("/var/lib/kubelet", "/data/kubelet")
    assert host_path_reach("/var/lib", "")  # an empty setting falls back to the default


@pytest.mark.parametrize(
    "written, name",
    [
        ("SYS_ADMIN", "SYS_ADMIN"),
        ("cap_sys_admin", "SYS_ADMIN"),
        (" all ", "ALL"),
        ("CAP_ALL", "ALL"),
        (7, ""),
    ],
)
def test_capabilities_compare_as_the_runtime_does(written, name):
    assert normalise_capability(written) == name


@pytest.mark.parametrize(
    "labels, default, level",
    [
        ({"pod-security.kubernetes.io/enforce": "privileged"}, "restricted", "privileged"),
        ({"pod-security.kubernetes.io/enforce": "baseline"}, "privileged", "baseline"),
        ({}, "privileged", "privileged"),
        ({}, "baseline", "baseline"),
        ({"pod-security.kubernetes.io/enforce": "Privileged"}, "privileged", "restricted"),  # unknown
        ({"pod-security.kubernetes.io/warn": "privileged"}, "restricted", "restricted"),  # only enforce
        (None, "privileged", "privileged"),
    ],
)
def test_the_enforced_level_comes_from_the_label_or_the_cluster_default(labels, default, level):
    assert enforce_level(labels, default)[0] == level


# --- the rules on hand-built snapshots ----------------------------------------------------------------


def _pod(name, namespace="beta-app", node="worker-1", owner=None, labels=None, **spec):
    meta = {"name": name, "namespace": namespace, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"metadata": meta, "spec": {"nodeName": node, **spec}, "status": {"phase": "Running"}}


def _context(pods, namespaces=("beta-app",), settings=None) -> Context:
    objects = {
        "Pod": {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods},
        "Namespace": {("", ns): {"metadata": {"name": ns, "labels": {}}} for ns in namespaces},
        "Node": {("", "worker-1"): {"metadata": {"name": "worker-1"}, "status": {"addresses": []}}},
    }
    state = SnapshotState(SimpleNamespace(facts={}), objects, {}, {})
    return Context(state, settings or AnalysisSettings(), access_records={})


def _violations(ctx, slug):
    return [hit for hit in RULES[slug].evaluate(ctx) if hit.violation]


def test_a_rollout_keeps_one_identity_and_one_evidence():
    privileged = [{"name": "shell", "securityContext": {"privileged": True}}]
    pods = [
        _pod(
            f"debug-{h}-abcde",
            owner=("ReplicaSet", f"debug-{h}"),
            labels={"pod-template-hash": h},
            containers=privileged,
            hostNetwork=True,
            volumes=[{"name": "host", "hostPath": {"path": f"/var/lib/kubelet{tail}"}}],
        )
        for h, tail in (("6d8f9c7b5d", ""), ("7c9d8f6b4c", "/"))
    ]
    for slug in ("privileged-container", "host-path-volume", "host-network"):
        hits = _violations(_context(pods), slug)
        assert len(hits) == 1, slug
        assert hits[0].identity[0] == "Deployment/beta-app/debug"
        assert len(hits[0].objects) == 2  # both pods make it true
        assert "worker-1" not in str(hits[0].evidence)


def test_static_pods_of_one_node_are_told_apart():
    pods = [
        _pod(name, namespace="beta-app", owner=("Node", "worker-1"), hostNetwork=True)
        for name in ("etcd-worker-1", "proxy-worker-1")
    ]
    hits = _violations(_context(pods), "host-network")
    assert sorted(h.identity[0] for h in hits) == [
        "Pod/beta-app/etcd-worker-1",
        "Pod/beta-app/proxy-worker-1",
    ]


def test_odd_input_never_raises_and_fires_on_nothing_it_should_not():
    pods = [
        _pod("a", containers="not-a-list"),
        _pod("b", containers=[None, {"name": "x", "securityContext": "privileged"}]),
        _pod("c", containers=[{"name": "x", "securityContext": {"privileged": "true"}}]),
        _pod("d", containers=[{"name": "x", "securityContext": {"capabilities": {"add": "SYS_ADMIN"}}}]),
        _pod("e", containers=[{"name": "x", "securityContext": {"capabilities": ["SYS_ADMIN"]}}]),
        _pod("f", volumes=[None, {"name": "v", "hostPath": None}, {"name": "w", "hostPath": {"path": 3}}]),
        _pod("g", hostPID="true", hostNetwork="yes"),
        {"metadata": {"name": "h", "namespace": "beta-app"}, "spec": None},
    ]
    ctx = _context(pods, settings=AnalysisSettings(pod_security_default="restricted"))
    for slug in NODE_RULES:
        assert [h.identity for h in _violations(ctx, slug)] == [], slug


def test_an_unscheduled_privileged_pod_still_fires_without_a_node():
    pods = [_pod("p", node="", containers=[{"name": "x", "securityContext": {"privileged": True}}])]
    (hit,) = _violations(_context(pods), "privileged-container")
    assert hit.severity == "high" and hit.namespaces == ["beta-app"]
    assert hit.paths[0].data == ["Pod/beta-app/p"]


# --- the case folders -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_platform_daemonset_yields_paths_but_no_violation(tmp_path):
    ctx, evaluation = run_case(CASES / "tenancy" / "platform-daemonset", tmp_path)
    for slug in ("privileged-container", "host-path-volume", "host-network"):
        trident = [
            h for h in evaluation.hits[slug] if h.identity[0] == "DaemonSet/trident/trident-node-linux"
        ]
        assert trident and not any(h.violation for h in trident), slug
        paths = [p for h in trident for p in h.paths]
        assert paths and all(p.platform and not p.raises_violation for p in paths), slug
    kubelet = next(
        h
        for h in evaluation.hits["host-path-volume"]
        if h.identity == ("DaemonSet/trident/trident-node-linux", "volume pods-mount-dir")
    )
    assert "PersistentVolume/alpha-db-data" in {ref for p in kubelet.paths for ref in p.data}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "folder", sorted(p.name for p in (CASES / "nodes").iterdir() if (p / "case.yaml").exists())
)
def test_every_violation_is_explained_by_a_path_of_snapshot_objects(folder, tmp_path):
    ctx, evaluation = run_case(CASES / "nodes" / folder, tmp_path)
    for slug in NODE_RULES:
        for hit in evaluation.hits.get(slug, []):
            refs = list(hit.objects) + [ref for path in hit.paths for ref in path.refs()]
            assert all(ctx.lookup(ref) is not None for ref in refs), (slug, hit.identity, refs)
            assert hit.paths, (slug, hit.identity)
            if hit.violation:
                assert any(p.raises_violation for p in hit.paths), (slug, hit.identity)
