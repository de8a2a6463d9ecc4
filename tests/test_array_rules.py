"""The Guideline 3 array rules on the exports case table: every reference they report names an object
of the snapshot, every violation is explained by a path and names the arrays it rests on; and the
helpers that regroup the derived access records."""

import pytest

from exposure.analysis.array_exposure import _party_key, config_flag
from exposure.rules.auto_export_cidrs_open import _catch_all
from tests.cases.runner import CASES, case_folders, run_case

SLUGS = (
    "export-allows-foreign-hosts",
    "export-root-squash-disabled",
    "san-foreign-initiator",
    "stale-node-access",
    "showmount-enabled",
    "export-policy-shared",
    "auto-export-cidrs-open",
    "iscsi-without-chap",
)
ARRAY_BASED = set(SLUGS) - {"auto-export-cidrs-open", "iscsi-without-chap"}
FOLDERS = [f for f in case_folders() if (CASES / "exports") in f.parents]


@pytest.mark.django_db
@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_hits_refer_to_objects_of_the_snapshot(folder, tmp_path):
    context, evaluation = run_case(folder, tmp_path)
    for slug in SLUGS:
        assert slug not in evaluation.failed
        for hit in evaluation.hits.get(slug, []):
            refs = list(hit.identity if slug in ARRAY_BASED else ()) + hit.objects
            refs += [ref for path in hit.paths for ref in path.refs()]
            missing = [ref for ref in refs if ref.startswith(("array:", "Trident", "Persistent"))]
            assert all(context.lookup(ref) is not None for ref in missing), (slug, hit.identity)
            assert hit.paths, (slug, hit.identity)
            assert hit.objects[0].startswith("TridentBackendConfig/"), hit.objects
            if slug in ARRAY_BASED and not any("TridentBackend/" in part for part in hit.identity):
                assert hit.arrays, (slug, hit.identity)


@pytest.mark.django_db
def test_many_pvs_on_one_policy_are_one_finding(tmp_path):
    context, evaluation = run_case(CASES / "exports" / "policy-shared", tmp_path)
    shared = [h for h in evaluation.hits["export-policy-shared"] if "svm_legacy/k8s_nodes" in h.identity[0]]
    assert len(shared) == 1 and len(shared[0].paths) == 2
    assert shared[0].evidence["backends_without_auto_export"] == ["nas-legacy"]


def test_parties_are_matched_to_their_own_gate_only():
    policy = {"kind": "export-policy", "name": "p", "where": "a", "role": "volume policy"}
    assert _party_key(policy, {"via": "a volume policy p, rule 2"}) == "2"
    assert _party_key(policy, {"via": "a volume policy p2, rule 2"}) is None
    igroup = {"kind": "igroup", "name": "g", "where": "a"}
    nested = {"party": "iqn.x", "via": "a igroup g (through nested igroup h)"}
    assert _party_key(igroup, nested) == "iqn.x"
    assert _party_key(igroup, {"party": "iqn.x", "via": "a igroup g2"}) is None
    assert _party_key(igroup, {"via": None}) is None


def test_config_flags_and_catch_all_cidrs():
    assert config_flag({"useCHAP": "TRUE"}, "useCHAP") is True
    assert config_flag({"useCHAP": "yes"}, "useCHAP") is None
    assert config_flag({}, "useCHAP") is None
    assert _catch_all("0.0.0.0/0") and _catch_all("::/0") and _catch_all(" 0.0.0.0/0 ")
    assert not _catch_all("10.20.0.0/16") and not _catch_all("nonsense") and not _catch_all(None)


@pytest.mark.django_db
def test_the_demo_stale_case_fires_once_the_node_has_left(tmp_path):
    """The demo seeds `stale-node-access` on nas-legacy for after day 20, when worker-retiring leaves."""
    from datetime import timedelta

    from exposure.analysis.context import Context
    from exposure.analysis.settings import AnalysisSettings
    from exposure.engine import evaluate
    from exposure.rules import RULES
    from inventory.models import Cluster
    from inventory.state import SnapshotState
    from inventory.tasks import snapshot_now
    from simulator.serving import SimulatedEstate
    from simulator.world import Simulation
    from tests.test_join import START, register_arrays

    simulation = Simulation(seed=0, start=START)
    estate = SimulatedEstate(simulation, tmp_path / "estate").start()
    try:
        register_arrays(estate)
        cluster = Cluster.objects.create(
            name="sim", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(estate.kubeconfig)
        )

        def stale_hits():
            snapshot = snapshot_now(cluster)
            context = Context(SnapshotState.load(snapshot), AnalysisSettings.for_cluster(cluster))
            hits = evaluate(context, [RULES["stale-node-access"], RULES["export-allows-foreign-hosts"]]).hits
            return hits["stale-node-access"], hits["export-allows-foreign-hosts"]

        simulation.advance_to(START + timedelta(days=1))
        assert stale_hits()[0] == []
        simulation.advance_to(START + timedelta(days=21))
        stale, foreign = stale_hits()
        legacy = [h for h in stale if "TridentBackendConfig/trident/backend-nas-legacy" in h.objects]
        assert legacy and "acme-db" in legacy[0].namespaces
        assert "worker-retiring" in legacy[0].evidence["departed_nodes"]
        departed = {p for h in stale for p in h.evidence["clients"]}
        assert not any(
            set(h.evidence.get("parties", [])) & {f"{c}: foreign" for c in departed} for h in foreign
        )
    finally:
        estate.stop()
