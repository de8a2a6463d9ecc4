"""No rule raises on odd input: every stored field of a realistic snapshot, replaced by values of the
wrong type or hostile text, or deleted.

The snapshot is built in memory from the case table (the base cluster plus the cases listed in
SOURCE_CASES: pods, PVs, PVCs, NetworkPolicies, RBAC, Trident objects and ONTAP array answers),
reduced to the kept fields as an import would, plus a SolidFire array made here (no case has one).

Coverage: for every object and array record, every field path (dict keys and list items, at any
depth) is replaced by each of ODD_VALUES and also deleted: about 5,000 paths x 13 mutations. To stay
fast the mutations are grouped: round r applies, to every object at once, that object's r-th mutation
(a seeded shuffle of its list), so each (object, path, value) is exercised exactly once in about 700
evaluations. A round that makes a rule fail is replayed one mutation at a time, so the failure names
the mutation that caused it. Objects keep their index keys (namespace, name), as the store would.
"""

import copy
import json
import logging
import os
import random
import traceback
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from arrays.array_kinds import ARRAY_KINDS
from arrays.array_reading import summarize_backends
from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.rules import ALL_RULES
from inventory.constants import SOLIDFIRE
from inventory.history import prepare, prepare_array_records
from inventory.state import ArrayRecords, SnapshotState

CASES = Path(__file__).resolve().parent / "cases"
SOURCE_CASES = (
    "exports/san-initiators",
    "exports/showmount",
    "exports/iscsi-chap",
    "exports/trident-per-volume-policy",
    "network/foreign-export-high",
    "network/named-ports",
    "network/end-port-range",
    "nodes/host-path-volume",
    "nodes/privileged-container",
    "nodes/host-namespace-escape",
    "nodes/namespace-admits-privileged",
    "rbac/chap-secrets-readable",
    "rbac/aggregated-clusterroles",
    "rbac/bind-escalate-impersonate",
    "storage/shared-across-tenants",
    "storage/inline-storage",
    "storage/orphaned-and-uid-gid",
    "storage/pv-available",
    "storage/shared-by-annotation",
    "tenancy/pv-released-retained",
)
SEED = 20260601
# Every (object, path, value) when ODD_INPUT_FULL_SWEEP=1 (a few minutes); by default a seeded sample
# of that share of each object's mutations.
FULL_SWEEP = os.environ.get("ODD_INPUT_FULL_SWEEP") == "1"
SAMPLED_SHARE = 0.2
# The helpers only rules use; odd input raising anywhere else (the join, pod views, backend parsing,
# tenancy) is shared plumbing, reported by the strict test.
RULE_HELPER_MODULES = ("rbac", "network_policy", "node_escape", "storage_backing", "array_exposure")
DELETE = object()  # the mutation that removes the field
ODD_VALUES = (
    None,
    "odd",
    7,
    True,
    ["odd", 7, None, {"x": 1}],
    {"odd": {"x": [1]}},
    "",
    "<script>x</script>",
    "../../",
    "a" * 5000,
    "\u202e",
    -1.5,
)
SOLIDFIRE_VOLUME = "pvc-5b1e7d3a-9c2f-4a8b-b6d4-3e5f7a9c1b2d"  # rbac/chap-secrets-readable's TridentVolume


def _solidfire_answers() -> dict[str, list[dict]]:
    return {
        "GetClusterInfo": [{"name": "sf-gold", "uniqueID": "abcd", "mvip": "10.0.0.50", "svip": "10.0.1.50"}],
        "ListAccounts": [{"accountID": 3, "username": "k8s-cluster", "status": "active", "volumes": [42]}],
        "ListVolumes": [
            {
                "volumeID": 42,
                "name": SOLIDFIRE_VOLUME,
                "accountID": 3,
                "access": "readWrite",
                "volumeAccessGroups": [1],
                "iqn": f"iqn.2010-01.com.solidfire:abcd.{SOLIDFIRE_VOLUME}.42",
                "status": "active",
            },
            {"volumeID": 43, "name": "leftover", "accountID": 3, "access": "readWrite", "status": "active"},
        ],
        "ListVolumeAccessGroups": [
            {
                "volumeAccessGroupID": 1,
                "name": "legacy",
                "initiators": ["iqn.1994-05.com.redhat:worker-1", "iqn.1998-01.com.vmware:esx-9"],
                "volumes": [42],
            }
        ],
        "ListInitiators": [
            {
                "initiatorID": 5,
                "initiatorName": "iqn.1998-01.com.vmware:esx-9",
                "alias": "esx",
                "volumeAccessGroups": [1],
                "requireChap": False,
            }
        ],
    }


def _load_kubernetes(paths: list[Path]) -> dict[str, dict[tuple, dict]]:
    raw: dict[str, dict[tuple, dict]] = {}
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            for item in document.get("items") or [] if "items" in document else [document]:
                metadata = item.get("metadata") or {}
                key = (metadata.get("namespace") or "", metadata.get("name"))
                raw.setdefault(item["kind"], {}).setdefault(key, item)  # the first case's object wins
    return raw


def _array_records(name: str, family: str, answers: dict[str, list[dict]]) -> ArrayRecords:
    records = ArrayRecords(name)
    for array_kind in ARRAY_KINDS:
        if array_kind.family == family and array_kind.source_key in answers:
            for (_, key), stored in prepare_array_records(array_kind, answers[array_kind.source_key]).items():
                records.by_kind[array_kind.kind][key] = stored.data
    return records


def _rows(answer) -> list[dict]:
    if isinstance(answer, dict):
        return answer.get("records", [answer])
    return answer


def build_inventory() -> tuple[dict, dict, dict]:
    """(kind -> key -> kept data, array name -> ArrayRecords, snapshot facts)."""
    files = sorted((CASES / "base").rglob("*.yaml"))
    dumps: dict[str, dict] = {}
    for case in SOURCE_CASES:
        files += sorted((CASES / case).glob("kubernetes/*.yaml"))
        for path in sorted((CASES / case).glob("backends/*.json")):
            document = json.loads(path.read_text())
            dumps.setdefault(document["backend"], document)
    raw = _load_kubernetes(files)
    objects = {
        kind: {key: stored.data for key, stored in prepare(kind, list(items.values())).items()}
        for kind, items in raw.items()
    }
    arrays = {
        name: _array_records(
            name, document["type"], {key: _rows(answer) for key, answer in document["responses"].items()}
        )
        for name, document in dumps.items()
    }
    arrays["solidfire-gold"] = _array_records("solidfire-gold", SOLIDFIRE, _solidfire_answers())

    def link(info):
        return next((n for n in (info.name, info.uuid) if n in arrays), None)

    facts = {"backends": summarize_backends(list(raw.get("TridentBackend", {}).values()), link)}
    return objects, arrays, facts


def context_of(objects: dict, arrays: dict, facts: dict) -> Context:
    state = SnapshotState(SimpleNamespace(facts=dict(facts)), objects, arrays, {})
    return Context(
        state, AnalysisSettings(tenant_label="team", platform_namespaces=("kube-system", "trident"))
    )


def field_paths(value, at: tuple = ()):
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*at, key)
        yield from field_paths(child, (*at, key))


def apply(data, path: tuple, value):
    """Set (or delete) `path` inside `data`; returns how to undo it."""
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    old = parent[last]
    if value is DELETE:
        if isinstance(parent, list):
            parent.pop(last)
            return lambda: parent.insert(last, old)
        del parent[last]
        return lambda: parent.__setitem__(last, old)
    parent[last] = copy.deepcopy(value)
    return lambda: parent.__setitem__(last, old)


def mutation_schedule(objects: dict, arrays: dict) -> list[tuple[dict, str, list]]:
    """(the object's data, its name for messages, its shuffled (path, value) mutations) per object."""
    rng = random.Random(SEED)
    targets = [(data, f"{kind} {key}") for kind, items in objects.items() for key, data in items.items()]
    targets += [
        (data, f"{array}:{kind} {key}")
        for array, records in arrays.items()
        for kind, items in records.by_kind.items()
        for key, data in items.items()
    ]
    schedule = []
    for data, label in targets:
        mutations = [(path, value) for path in field_paths(data) for value in (*ODD_VALUES, DELETE)]
        if not FULL_SWEEP:
            mutations = [m for m in mutations if rng.random() < SAMPLED_SHARE]
        rng.shuffle(mutations)
        schedule.append((data, label, mutations))
    return schedule


def describe(label: str, path: tuple, value) -> str:
    shown = "<deleted>" if value is DELETE else repr(value)[:40]
    return f"{label} {'.'.join(map(str, path))} = {shown}"


class _RuleFailures(logging.Handler):
    """The engine logs each failing rule with its traceback: keep where each exception was raised."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.origins: dict[str, str] = {}

    def emit(self, record):
        if record.exc_info and record.args:
            frames = [f for f in traceback.extract_tb(record.exc_info[2]) if "/inventory/" in f.filename]
            where = frames[-1] if frames else None
            slug = record.args[0]
            self.origins[slug] = f"{where.filename.split('/inventory/')[-1]}:{where.lineno}" if where else "?"


def owned_by_rules(origin: str) -> bool:
    """Raised in a rule module or a helper only rules use (shared plumbing is reported apart)."""
    return origin.startswith("rules/") or origin.split(":")[0] in RULE_HELPERS


RULE_HELPERS = {f"analysis/{name}.py" for name in RULE_HELPER_MODULES}


def run(objects, arrays, facts, batch, rules=None) -> dict[str, tuple[str, str]]:
    """slug -> (where it raised, what) for the rules that fail with `batch` applied."""
    undo = [apply(data, path, value) for data, _, path, value in batch]
    handler = _RuleFailures()
    engine_log = logging.getLogger("exposure.engine")
    engine_log.addHandler(handler)
    engine_log.propagate = False  # thousands of expected tracebacks would drown the test's output
    try:
        failed = evaluate(context_of(objects, arrays, facts), rules).failed
    finally:
        engine_log.removeHandler(handler)
        engine_log.propagate = True
        for step in reversed(undo):
            step()
    return {slug: (handler.origins.get(slug, "?"), error) for slug, error in failed.items()}


def culprit(objects, arrays, facts, batch, rule) -> tuple | None:
    """The one mutation of `batch` that makes `rule` fail, by halving (None: it takes several)."""
    while len(batch) > 1:
        half = batch[: len(batch) // 2]
        batch = half if run(objects, arrays, facts, half, [rule]) else batch[len(batch) // 2 :]
    return batch[0] if run(objects, arrays, facts, batch, [rule]) else None


def sweep() -> list[str]:
    """Every scheduled mutation, grouped in rounds; a mutation that makes a rule fail is recorded and
    taken out of its round, which is run again (so it does not blind the rules to the others)."""
    objects, arrays, facts = build_inventory()
    pristine = copy.deepcopy((objects, arrays))
    rules = {rule.slug: rule for rule in ALL_RULES}
    schedule = mutation_schedule(objects, arrays)
    assert sum(len(m) for _, _, m in schedule) > (60_000 if FULL_SWEEP else 60_000 * SAMPLED_SHARE * 0.9)
    failures: list[str] = []
    for number in range(max(len(mutations) for _, _, mutations in schedule)):
        batch = [
            (data, label, *mutations[number])
            for data, label, mutations in schedule
            if number < len(mutations)
        ]
        while failed := run(objects, arrays, facts, batch):
            slug, (origin, error) = next(iter(failed.items()))
            found = culprit(objects, arrays, facts, batch, rules[slug])
            if found is None:
                failures.append(f"{origin}: {slug}: {error} (round {number}, several mutations together)")
                break
            origin, error = run(objects, arrays, facts, [found], [rules[slug]]).get(slug, (origin, error))
            failures.append(f"{origin}: {slug}: {error} ({describe(*found[1:])})")
            batch.remove(found)
    assert (objects, arrays) == pristine, "every mutation was undone"
    return failures


@pytest.fixture(scope="module")
def sweep_failures() -> list[str]:
    return sweep()


def test_the_unmutated_snapshot_fires_rules_and_fails_none():
    objects, arrays, facts = build_inventory()
    evaluation = evaluate(context_of(objects, arrays, facts))
    assert evaluation.failed == {}
    firing = {slug for slug, hits in evaluation.hits.items() if any(h.violation for h in hits)}
    assert len(firing) >= 18, f"the base should exercise most rules; only {sorted(firing)} fire"
    assert arrays["solidfire-gold"].all("solidfire.Volume"), "the SolidFire records were kept"


def test_no_rule_or_rule_helper_raises_on_any_odd_field(sweep_failures):
    assert [f for f in sweep_failures if owned_by_rules(f)] == []


def test_no_rule_fails_at_all_on_any_odd_field(sweep_failures):
    """Shared plumbing too (the join, pod views, backend parsing, tenancy, the snapshot's indexes)."""
    assert sweep_failures == []


ODD_DUMP = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: odd-volumes, namespace: alpha-web, uid: 0dd00000-0000-4000-8000-000000000001}
  spec:
    nodeName: worker-1
    containers: [{name: app, image: busybox}]
    volumes:
    - 7
    - {name: data, persistentVolumeClaim: {claimName: odd-claim}}
  status: {phase: Running}
- apiVersion: v1
  kind: PersistentVolume
  metadata: {name: odd-handle, uid: 0dd00000-0000-4000-8000-000000000002}
  spec:
    capacity: {storage: 1Gi}
    accessModes: [ReadWriteOnce]
    claimRef: {kind: PersistentVolumeClaim, name: odd-claim, namespace: alpha-web}
    csi: {driver: csi.trident.netapp.io, volumeHandle: 12345}
  status: {phase: Bound}
"""


@pytest.mark.django_db
def test_a_dump_with_odd_volume_fields_imports_and_keeps_them(tmp_path):
    """An integer among a pod's volumes and a numeric CSI volumeHandle once made a whole import fail
    (the join read both as text); the snapshot now lands, with the objects stored as they were."""
    from inventory.importing import import_dump
    from tests.cases.runner import TAKEN_AT, assemble, configure_cluster

    case_dir = tmp_path / "case"
    (case_dir / "kubernetes").mkdir(parents=True)
    (case_dir / "kubernetes" / "odd.yaml").write_text(ODD_DUMP)
    cluster = configure_cluster("odd-volumes", {})
    snapshot = import_dump(cluster.name, assemble(case_dir, tmp_path / "dump", {}), taken_at=TAKEN_AT)

    assert snapshot.is_visible, snapshot.error
    state = SnapshotState.load(snapshot)
    assert 7 in state.get("Pod", "odd-volumes", "alpha-web")["spec"]["volumes"]
    assert state.get("PersistentVolume", "odd-handle")["spec"]["csi"]["volumeHandle"] == 12345
    context = Context(state, AnalysisSettings(tenant_label="team"))
    assert context.volume_access["odd-handle"]["namespaces"] == ["alpha-web"], "the PV was still joined"
    assert evaluate(context).failed == {}


@pytest.mark.parametrize("block", [{"cidr": True}, {"cidr": 7}, {"cidr": "10.0.0.0/8", "except": [True]}])
def test_an_ip_block_of_numbers_is_malformed_not_an_address(block):
    """ip_network(True) is 0.0.0.1/32 and ip_network(7) is 0.0.0.7/32: never read a number as a peer."""
    from exposure.analysis.network_policy import _peer

    assert _peer({"ipBlock": block}).malformed


def test_uid_gid_reads_an_array_object_s_odd_nas_field_as_no_permissions_there():
    """An ONTAP volume whose `nas` is not an object (text here) on an SVM serving NFSv3: its
    permissions are read from the volume itself, not a failure of the rule."""
    from types import SimpleNamespace

    from exposure.rules.uid_gid_not_a_boundary import _permissions

    volume = {"nas": "../../", "unix_permissions": 750}
    arrays = {"ontap-a": SimpleNamespace(get=lambda kind, name: volume if name == "svm/vol" else None)}
    ctx = SimpleNamespace(state=SimpleNamespace(arrays=arrays))
    record = {"array": "ontap-a", "object": {"kind": "ontap.Volume", "name": "svm/vol"}}
    assert _permissions(ctx, {"spec": {}}, record) == 750
    assert (
        _permissions(ctx, {"spec": {}}, {**record, "object": {"kind": "ontap.Volume", "name": "x"}}) is None
    )
