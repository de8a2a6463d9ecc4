"""What a snapshot's pipeline leaves (access records, findings, exposure paths, grades) equals a full
analysis of the same snapshot from scratch, over sequences of snapshots with varied changes: the
case table imported case after case into one cluster, each lifecycle sequence, and the simulator's
churn.  The pipeline reuses what it can (the state the run just stored, a record's stored digest when
its inputs did not change, open findings, the findings and paths of rules none of whose inputs
changed); none of that may change a result."""

from contextlib import contextmanager
from datetime import timedelta

import orjson
import pytest

from arrays.volume_access import records_as_of
from exposure.analyse import exposure_paths
from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.findings import MAX_STORED_PATHS, depends_on, fingerprint, unread_sources
from exposure.grades import CLUSTER_WIDE, grade_of
from exposure.models import Finding, NamespaceStatus
from inventory.demo import DEMO_OWNER_KEYS, DEMO_PLATFORM_NAMESPACES, DEMO_TENANT_LABEL
from inventory.importing import import_dump
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE, SnapshotState
from inventory.tasks import snapshot_now
from simulator.serving import SimulatedEstate
from simulator.world import Simulation
from tests.cases.runner import TAKEN_AT, assemble, case_folders, configure_cluster, load_case
from tests.test_join import register_arrays
from tests.test_lifecycle import LIFECYCLE, Steps

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

RECORD_KINDS = ("VolumeAccess", "InlineVolumeAccess")


def full_analysis(snapshot: Snapshot):
    """The snapshot analysed from scratch: its inventory read back, every access record derived anew,
    every rule run."""
    state = SnapshotState.load(snapshot)
    settings = AnalysisSettings.for_cluster(snapshot.cluster)
    detached = Snapshot(
        cluster=snapshot.cluster, seq=snapshot.seq, unread=snapshot.unread, facts=dict(snapshot.facts)
    )
    records = Context(SnapshotState(detached, state.objects, state.arrays, state.departed_nodes), settings)
    context = Context(state, settings, records.access_records)  # no primary key: derived in memory
    return context, evaluate(context)


def without_inputs(records: dict) -> dict:
    """The records as JSON (as stored), without the digest of their inputs and the digests of their
    party lists (the pipeline's own)."""
    return {
        key: orjson.loads(orjson.dumps({k: v for k, v in data.items() if k not in ("inputs", "party_lists")}))
        for key, data in records.items()
    }


def assert_same_as_full_analysis(snapshot: Snapshot) -> dict:
    """...and return what the pipeline's analysis did (its facts: `carried`, the rules it did not
    re-run, their inputs unchanged; `within`, those it judged in some namespaces only)."""
    assert snapshot.is_visible, snapshot.error
    context, evaluation = full_analysis(snapshot)
    derived = InventoryObject.objects.as_of(snapshot).filter(scope=DERIVED_SCOPE)
    stored = records_as_of(snapshot, RECORD_KINDS)

    for kind in RECORD_KINDS:  # the access records, read back whole
        kept = stored[kind]
        assert without_inputs(kept) == without_inputs(context.access_records.get(kind, {})), kind

    expected = {}  # the findings: what each violation says, the first hit of a fingerprint
    for rule, hit in evaluation.all_hits():
        if hit.violation:
            expected.setdefault(fingerprint(rule.slug, hit.identity), (rule, hit))
    open_findings = {
        f.fingerprint: f for f in Finding.objects.filter(cluster=snapshot.cluster, status="open")
    }
    unread = unread_sources(snapshot)
    held = {key for key, f in open_findings.items() if key not in expected}
    assert all(unread.intersection(open_findings[key].depends) for key in held), "resolved by nothing"
    if snapshot.status == Snapshot.Status.COMPLETE and not evaluation.failed:
        assert not held
    assert set(expected) <= set(open_findings)
    for key, (rule, hit) in expected.items():
        finding = open_findings[key]
        said = (
            finding.severity,
            finding.title,
            finding.detail,
            finding.namespaces,
            finding.cluster_wide,
            finding.evidence,
            finding.paths,
            finding.path_count,
            finding.depends,
        )
        assert said == (
            hit.severity,
            hit.title,
            hit.detail,
            sorted(set(hit.namespaces)),
            hit.cluster_wide,
            hit.evidence,
            [path.as_dict() for path in hit.paths[:MAX_STORED_PATHS]],
            len(hit.paths),
            depends_on(rule, hit),
        ), key

    paths = {(o.namespace, o.name): o.data for o in derived.filter(kind="ExposurePaths")}
    full = exposure_paths(evaluation)
    assert paths == {key: orjson.loads(value.data.json) for key, value in full.items()}

    # The grades: of the namespaces present only; a finding attributed to none of them (cluster-wide,
    # or only to namespaces that are gone) grades the cluster.
    counts = {ns: {} for ns in [CLUSTER_WIDE, *context.state.namespace_names()]}
    for finding in open_findings.values():
        if finding.severity != "info":
            present = [] if finding.cluster_wide else [ns for ns in finding.namespaces if ns in counts]
            for namespace in present or [CLUSTER_WIDE]:
                counts[namespace].setdefault(finding.severity, 0)
                counts[namespace][finding.severity] += 1
    graded = {
        s.namespace: (s.grade, s.counts)
        for s in NamespaceStatus.objects.filter(cluster=snapshot.cluster, valid_to=None)
    }
    assert graded == {ns: (grade_of(per), per) for ns, per in counts.items()}

    # What each rule found, counted: carried, judged in some namespaces or whole, as from scratch.
    analysis = snapshot.facts["analysis"]
    if not analysis.get("reused"):
        ran = set(evaluation.hits) & set(analysis["violations"])
        assert {slug: analysis["violations"][slug] for slug in ran} == {
            slug: sum(1 for hit in evaluation.hits[slug] if hit.violation) for slug in ran
        }
        assert {slug: analysis["paths"][slug] for slug in ran} == {
            slug: sum(len(hit.paths) for hit in evaluation.hits[slug]) for slug in ran
        }
    return analysis


def test_the_case_table_case_after_case_in_one_cluster(tmp_path):
    cluster = configure_cluster("sequence", {})
    folders = [f for f in case_folders() if LIFECYCLE not in f.parents]
    carried = []
    for step, folder in enumerate([*folders, *reversed(folders[: len(folders) // 2])]):
        into = assemble(folder, tmp_path / f"{step}-{folder.name}", load_case(folder))
        snapshot = import_dump(cluster.name, into, taken_at=TAKEN_AT + timedelta(hours=step))
        carried.append(assert_same_as_full_analysis(snapshot).get("carried"))
    # Both ways exercised: steps where every rule re-ran, steps where some did not.
    assert any(carried) and not all(carried), carried


@pytest.mark.parametrize("case", sorted(p.name for p in LIFECYCLE.iterdir() if p.is_dir()))
def test_each_lifecycle_sequence(case, tmp_path):
    steps = Steps(case, tmp_path)
    while steps.done < len(steps.steps):
        assert_same_as_full_analysis(steps.next())


@contextmanager
def simulated_cluster(tmp_path):
    """A simulated estate on loopback, its arrays registered, and a cluster reading it under the
    demo's trust settings: (the simulation, the cluster)."""
    simulation = Simulation(seed=3, start=TAKEN_AT)
    estate = SimulatedEstate(simulation, tmp_path / "estate").start()
    try:
        register_arrays(estate)
        cluster = Cluster.objects.create(
            name="sim",
            source=Cluster.Source.KUBECONFIG,
            kubeconfig_path=str(estate.kubeconfig),
            tenant_label=DEMO_TENANT_LABEL,
            owner_keys=DEMO_OWNER_KEYS,
            platform_namespaces=DEMO_PLATFORM_NAMESPACES,
        )
        yield simulation, cluster
    finally:
        estate.stop()


def test_the_simulator_churning(tmp_path):
    with simulated_cluster(tmp_path) as (simulation, cluster):
        assert_same_as_full_analysis(snapshot_now(cluster))
        carried, within = [], []
        fractions = (0.05, 0.0, 0.2, 0.02)
        for fraction in fractions:
            simulation.advance_to(simulation.clock + timedelta(minutes=10))
            if fraction:
                simulation.churn(fraction)
            analysis = assert_same_as_full_analysis(snapshot_now(cluster))
            carried.append(analysis.get("carried") or [])
            within.append(analysis.get("within") or {})
        # Pods, claims and role bindings changed, no persistent volume: the rule on PVs alone stood.
        assert all("pv-released-retained" in rules for rules in carried), carried
        # They changed in place, in fields few rules read (a pod's runAsUser, a claim's share
        # annotation, a binding's subjects): the rules on pods that read none of them stood too.
        assert all({"host-network", "privileged-container"} <= set(rules) for rules in carried), carried
        assert not any(
            {"uid-gid-not-a-boundary", "volume-shared-by-annotation"} & set(rules) for rules in carried
        )
        # Pods changed in some namespaces only: the namespace-local rule reading runAsUser judged
        # those (the others' findings and paths stood), in every churned step.
        namespaces = len(simulation.stored("Namespace"))
        judged = [step.get("uid-gid-not-a-boundary") for step, f in zip(within, fractions, strict=True) if f]
        assert all(0 < (n or 0) < namespaces for n in judged), (judged, namespaces)
