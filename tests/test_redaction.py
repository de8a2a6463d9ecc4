"""Redaction of findings, paths and text for a reader who sees only some namespaces (tenancy/redaction.py)."""

import inspect

import pytest
from django.db import connection
from django.utils import timezone

from dashboard.queries import listed_findings, own_volumes, reader_for, redacted_findings, visible_findings
from inventory.models import Cluster
from inventory.snapshotting import queue_snapshot, run_snapshot
from tenancy.redaction import Reader, redact_event, redact_finding, scrub, visible_paths
from tenancy.scope import Scope
from tests.factories import collection, obj
from tests.factories import finding as made_finding

READER = Reader(Scope(namespaces={1: frozenset({"alpha-web"})}), 1, frozenset({"alpha"}))


def finding(refs):
    return {
        "rule": "storage-network-reachable",
        "namespaces": ["alpha-web"],
        "refs": refs,
        "paths": [],
        "title": "pods of beta-app reach the LIF serving alpha-web",
        "detail": "beta-app",
        "evidence": {"namespace": "beta-app"},
    }


def test_a_finding_naming_another_tenants_namespace_object_is_redacted():
    """`Namespace/beta-app` is cluster-scoped: its name, not a namespace part, is whose it is."""
    shown = redact_finding(finding(["Namespace/beta-app", "Node/worker-1"]), READER)
    assert shown.get("redacted") and "beta-app" not in repr(shown)


def test_a_finding_about_the_readers_own_objects_keeps_its_text():
    shown = redact_finding(finding(["Namespace/alpha-web", "Node/worker-1"]), READER)
    assert not shown.get("redacted") and shown["title"].startswith("pods of beta-app")


TENANTS = {"alpha-web": "alpha", "beta": "beta", "beta-app": "beta", "sandbox": "namespace:sandbox"}


def test_source_text_names_only_what_the_reader_sees():
    from tenancy.redaction import source_text_scrubber

    scrub = source_text_scrubber(READER, TENANTS)
    x = "(a name of another tenant)"
    assert scrub("403: cannot list pods in namespace beta-app.") == f"403: cannot list pods in namespace {x}."
    assert scrub("tenant beta, namespaces beta and sandbox") == f"tenant {x}, namespaces {x} and {x}"
    assert scrub("KeyError: 'beta-app/db-0'") == "KeyError: 'an object of another tenant'"
    # The reader's own names stay, and a hidden name inside a longer word or a host name is not one.
    assert scrub("alpha-web (tenant alpha) on beta.example.com, betamax") == (
        "alpha-web (tenant alpha) on beta.example.com, betamax"
    )
    admin = Reader(Scope.everything(), 1)
    assert source_text_scrubber(admin, TENANTS)("namespace beta-app") == "namespace beta-app"


# --- volumes: a PV is its claim's namespace's; an array object behind volumes is its users' ------------

OWN_PV = "PersistentVolume/pv-alpha"
FREE_PV = "PersistentVolume/pv-free"  # claimed by no namespace: the cluster's
THEIR_PV = "PersistentVolume/nfs-reports-beta"  # claimed in beta-app
OWN_OBJECT = "array:ontap-a/ontap.Volume/svm_k8s/alpha_vol"
THEIR_OBJECT = "array:ontap-a/ontap.Qtree/svm_k8s/shared/reports_beta"
POLICY = "array:ontap-a/ontap.ExportPolicy/svm_k8s/default"  # shared infrastructure, not data
VOLUMES_READER = Reader.of(
    Scope(namespaces={1: frozenset({"alpha-web"})}),
    1,
    {"alpha-web": "alpha", "beta-app": "beta"},
    frozenset({OWN_PV, FREE_PV, OWN_OBJECT}),
)


def shared_path(user_hops, data=("PersistentVolumeClaim/alpha-web/data", OWN_PV, OWN_OBJECT)):
    """volume-shared-across-tenants' shape: another tenant's claim and PV resolve to alpha-web's data."""
    return {
        "actor": {"kind": "subject", "identity": "anyone who may create pods in beta-app", "tenant": "beta"},
        "hops": [{"ref": ref, "via": via} for ref, via in user_hops],
        "data": list(data),
        "namespace": "alpha-web",
        "access": "write",
        "rule": "volume-shared-across-tenants",
        "severity": "critical",
        "mitigations": [f"{THEIR_PV} is Retain"],
        "inside_tenant": False,
        "platform": False,
    }


THEIR_HOPS = [
    ("PersistentVolumeClaim/beta-app/reports", "spec.volumeName"),
    (THEIR_PV, f"resolves to the same backend object as {OWN_PV}: nfs 192.0.2.41:/alpha_vol"),
]


def test_a_path_through_another_tenants_pv_names_neither_it_nor_its_claim():
    (shown,) = visible_paths([shared_path(THEIR_HOPS)], VOLUMES_READER)
    assert shown["hops"] == [
        {"ref": "PersistentVolumeClaim of another tenant", "via": "spec.volumeName"},
        {"ref": "PersistentVolume of another tenant", "via": "resolves"},
    ]
    assert shown["data"] == ["PersistentVolumeClaim/alpha-web/data", OWN_PV, OWN_OBJECT], "A's own data"
    assert shown["mitigations"] == ["a PersistentVolume of another tenant is Retain"]
    assert "beta" not in repr(shown)


def test_the_readers_own_volumes_the_clusters_and_shared_infrastructure_stay_named():
    hops = [
        (OWN_PV, f"spec.nfs of {OWN_OBJECT}"),
        (FREE_PV, "status.phase Available"),
        (POLICY, "rule 2 clients 192.0.2.0/24"),
    ]
    (shown,) = visible_paths([shared_path(hops)], VOLUMES_READER)
    assert shown["hops"] == [{"ref": ref, "via": via} for ref, via in hops]


def test_an_array_object_behind_only_another_tenants_volume_is_named_by_its_kind():
    hops = [(THEIR_OBJECT, f"nested in {OWN_OBJECT}"), (OWN_OBJECT, f"holds {THEIR_OBJECT}")]
    (shown,) = visible_paths([shared_path(hops)], VOLUMES_READER)
    assert shown["hops"] == [
        {"ref": "ontap.Qtree of another tenant", "via": "nested"},
        {"ref": OWN_OBJECT, "via": "holds an ontap.Qtree of another tenant"},
    ]


def test_a_shown_paths_data_is_named_even_when_the_cluster_no_longer_has_it():
    """A path's data is its namespace's (a resolved finding's PV may since have been deleted)."""
    gone = "PersistentVolume/pv-alpha-old"
    gone_object = "array:ontap-a/ontap.Volume/svm_k8s/alpha_old"
    path = shared_path([(gone, "spec")], data=(gone, gone_object))
    (shown,) = visible_paths([path], VOLUMES_READER)
    assert shown["hops"] == [{"ref": gone, "via": "spec"}] and shown["data"] == [gone, gone_object]
    # Not a hop of a path shown to the reader, nor theirs: hidden (unknown is not theirs).
    (other,) = visible_paths([shared_path([(gone, "spec")])], VOLUMES_READER)
    assert other["hops"] == [{"ref": "PersistentVolume of another tenant", "via": "spec"}]


def test_free_text_names_only_the_readers_volumes_and_keeps_address_blocks():
    cases = {
        f"{THEIR_PV} and PersistentVolume nfs-reports-beta.": (
            "a PersistentVolume of another tenant and a PersistentVolume of another tenant."
        ),
        f"{OWN_PV}, PersistentVolume pv-free and {OWN_OBJECT}.": (
            f"{OWN_PV}, PersistentVolume pv-free and {OWN_OBJECT}."
        ),
        f"{THEIR_OBJECT}; {POLICY}": f"an ontap.Qtree of another tenant; {POLICY}",
        "rule 2 clients 192.0.2.0/24, 10.0.0.0/8": "rule 2 clients 192.0.2.0/24, 10.0.0.0/8",
        "Pod/beta-app/x, Pod beta-app/y, beta-app/z, alpha-web/w": (
            "a Pod of another tenant, a Pod of another tenant, an object of another tenant, alpha-web/w"
        ),
    }
    for text, shown in cases.items():
        assert scrub(text, VOLUMES_READER) == shown, text
    admin = Reader.of(Scope.everything(), 1, {}, frozenset())
    assert scrub(f"{THEIR_PV} {THEIR_OBJECT}", admin) == f"{THEIR_PV} {THEIR_OBJECT}"


def volume_finding(refs, paths=()):
    return {
        "rule": "volume-shared-across-tenants",
        "namespaces": ["alpha-web"],
        "refs": refs,
        "paths": list(paths),
        "title": "One backend object is used by alpha, beta: PersistentVolume nfs-reports-beta",
        "detail": "nfs-reports-beta",
        "evidence": {"users": [THEIR_PV]},
    }


def test_a_finding_naming_another_tenants_volume_is_redacted():
    for refs in ([THEIR_PV, OWN_PV], [OWN_PV, THEIR_OBJECT]):
        shown = redact_finding(volume_finding(refs), VOLUMES_READER)
        assert shown.get("redacted") and "beta" not in repr(shown), refs
    # Its own volumes, the cluster's, and its paths' data: the finding keeps its text.
    gone = "PersistentVolume/pv-alpha-old"
    path = shared_path([], data=(gone,))
    shown = redact_finding(
        volume_finding([OWN_PV, FREE_PV, OWN_OBJECT, POLICY, gone], [path]), VOLUMES_READER
    )
    assert not shown.get("redacted") and shown["title"].startswith("One backend object")


def test_an_events_text_names_no_volume_of_another_tenant():
    detail = {"why": f"no longer seen: {THEIR_PV} deleted", "evidence": {"users": [THEIR_PV]}}
    assert redact_event(detail, VOLUMES_READER, finding_redacted=True) == {
        "why": "no longer seen: a PersistentVolume of another tenant deleted"
    }


def test_every_reader_is_built_with_the_readers_own_volumes():
    """No construction site can forget them (an empty set would hide the reader's own volumes)."""
    assert inspect.signature(Reader.of).parameters["own_volumes"].default is inspect.Parameter.empty


# --- the reader's own volumes, read from the database ---------------------------------------------------


def _claimed_pv(name, namespace=None):
    """An NFS PV, bound to claim `data` in `namespace` (none: Available to any claim)."""
    spec = {
        "nfs": {"server": "192.0.2.50", "path": f"/exports/{name}"},
        "persistentVolumeReclaimPolicy": "Retain",
    }
    if namespace:
        spec["claimRef"] = {"namespace": namespace, "name": "data"}
    return obj("PersistentVolume", name, spec=spec, status={"phase": "Bound" if namespace else "Available"})


def _namespace(name, team):
    return obj("Namespace", name, metadata={"labels": {"team": team}})


def _snapshot(cluster, objects):
    done = run_snapshot(queue_snapshot(cluster), lambda: collection(objects))
    assert done.is_visible, done.error
    return done


@pytest.mark.django_db
@pytest.mark.postgres_too  # JSON keys read and DISTINCT over them, on both databases
def test_a_readers_own_volumes_are_their_namespaces_pvs_then_and_now_and_the_unclaimed(
    django_assert_num_queries,
):
    cluster = Cluster.objects.create(name="prod", source=Cluster.Source.OFFLINE, tenant_label="team")
    namespaces = [_namespace("alpha-web", "alpha"), _namespace("beta-app", "beta")]
    earlier = [_claimed_pv("pv-alpha-old", "alpha-web"), _claimed_pv("pv-beta-old", "beta-app")]
    now = [_claimed_pv("pv-alpha", "alpha-web"), _claimed_pv("pv-beta", "beta-app"), _claimed_pv("pv-free")]
    _snapshot(cluster, namespaces + earlier + now)
    latest = _snapshot(cluster, namespaces + now)  # the old PVs are gone
    assert own_volumes(latest, frozenset({"alpha-web"})) == {
        "PersistentVolume/pv-alpha",
        "PersistentVolume/pv-alpha-old",  # what the reader's findings' history names
        "PersistentVolume/pv-free",  # the cluster's
    }
    scope = Scope(namespaces={cluster.pk: frozenset({"alpha-web"})})
    cluster = Cluster.objects.get(pk=cluster.pk)  # a page's instance
    with django_assert_num_queries(4):  # the latest snapshot, the namespaces' tenants, the volumes
        reader = reader_for(scope, cluster)
    assert reader.tenants == {"alpha"} and "PersistentVolume/pv-beta" not in reader.own_volumes
    with django_assert_num_queries(1):  # once per page: later readers only check the latest snapshot
        assert reader_for(scope, cluster) is reader
    _snapshot(cluster, namespaces + now[:1])
    assert reader_for(scope, cluster) is not reader, "a newer snapshot: read anew"
    assert reader_for(Scope.everything(), cluster).own_volumes == frozenset(), "admins: nothing to read"


@pytest.mark.django_db
@pytest.mark.postgres_too  # PostgreSQL reads the refs only where they may decide; SQLite reads them all
def test_a_findings_refs_are_read_where_the_readers_redaction_decides_by_them():
    cluster = Cluster.objects.create(name="prod", source=Cluster.Source.OFFLINE, tenant_label="team")
    namespaces = [_namespace("alpha-web", "alpha"), _namespace("beta-app", "beta")]
    volumes = [_claimed_pv("pv-alpha", "alpha-web"), _claimed_pv("pv-beta", "beta-app")]
    _snapshot(cluster, namespaces + volumes)
    theirs, own = ["PersistentVolume/pv-beta"], ["PersistentVolume/pv-alpha"]
    now = timezone.now()
    by_refs = made_finding(cluster, "alpha-web", 1, first_seen=now, refs=theirs, title="shares pv-beta")
    by_namespace = made_finding(
        cluster, "alpha-web", 2, first_seen=now, refs=theirs, namespaces=["alpha-web", "beta-app"]
    )
    clean = made_finding(cluster, "alpha-web", 3, first_seen=now, refs=own, title="alpha-web only")
    tenant = Scope(namespaces={cluster.pk: frozenset({"alpha-web"})})

    read = {f.pk: f.deciding_refs for f in visible_findings(tenant)}
    assert read[by_refs.pk] == theirs and read[clean.pk] == own
    # Naming beta-app redacts it whatever its refs: PostgreSQL leaves them unread.
    assert read[by_namespace.pk] == ([] if connection.vendor == "postgresql" else theirs)
    assert all(f.deciding_refs == [] for f in visible_findings(Scope.everything()))
    shown = {row["id"]: row for row in redacted_findings(visible_findings(tenant), tenant)}
    listed = {row["id"]: row for row in listed_findings(visible_findings(tenant), tenant)}
    for hidden in (by_refs, by_namespace):
        assert shown[hidden.pk]["redacted"] and "beta" not in repr(shown[hidden.pk])
        assert "pv-beta" not in listed[hidden.pk]["title"]
    assert not shown[clean.pk].get("redacted") and listed[clean.pk]["title"] == "alpha-web only"
    everything = Scope.everything()
    admin = {row["id"]: row for row in redacted_findings(visible_findings(everything), everything)}
    assert admin[by_refs.pk]["title"] == "shares pv-beta"
