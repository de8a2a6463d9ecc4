"""What a worker keeps from one snapshot's derivation to the next (arrays/process_cache.py): export
policies and the parties of chains of rules, found by content only, and the record's inputs that
decide whether a record keeps its stored digest."""

import copy

from arrays.admission import Admissions
from arrays.export_policy import policy_of
from arrays.join import Gate, Resolution
from arrays.node_set import NodeSet
from arrays.party_lists import PerPartyList
from arrays.process_cache import BoundedCache
from arrays.volume_access import inputs_of
from exposure.analysis.node_admission import AdmittedNodes, NodeAdmission

RULES = [
    {"index": 1, "clients": [{"match": "10.20.0.5"}], "ro_rule": ["sys"], "rw_rule": ["sys"]},
    {"index": 2, "clients": [{"match": "0.0.0.0/0"}], "ro_rule": ["sys"], "rw_rule": ["never"]},
]


def nodes(address: str) -> NodeSet:
    node = {
        "metadata": {"name": "worker-1"},
        "status": {"addresses": [{"type": "InternalIP", "address": address}]},
    }
    return NodeSet.from_objects([node], [])


def resolution(rules: list, role: str = "volume policy") -> Resolution:
    gates = [Gate("export-policy", "pol", "ontap-a", role, rules=rules)]
    return Resolution("PersistentVolume/pv-1", ["team-a"], "trident", gates=gates)


def test_a_bounded_cache_keeps_its_bound_and_drops_the_least_recently_used():
    cache: BoundedCache[str] = BoundedCache(maxsize=2)
    cache.get_or_make("a", lambda: "A")
    cache.get_or_make("b", lambda: "B")
    assert cache.get_or_make("a", lambda: "not made again") == "A"  # "a" is now the most recent
    cache.get_or_make("c", lambda: "C")
    assert len(cache) == 2
    assert cache.get_or_make("a", lambda: "made again") == "A"
    assert cache.get_or_make("b", lambda: "made again") == "made again"


def test_a_policy_read_again_in_a_later_snapshot_is_the_same_policy_with_its_evaluation():
    first = policy_of(RULES, b"rules of test_a_policy_read_again")
    again = policy_of(copy.deepcopy(RULES), b"rules of test_a_policy_read_again")
    assert again is first
    assert again.admitted_parties() is first.admitted_parties()  # evaluated once
    assert first.reach("nfs3") is again.reach("nfs3")


def test_a_chains_parties_are_kept_per_node_set_and_judged_against_each():
    here, elsewhere = nodes("10.20.0.5"), nodes("192.0.2.9")
    kept = Admissions(here, "node set here").of(resolution(RULES))
    # A later snapshot: new lists of the same rules, the same node set.
    again = Admissions(nodes("10.20.0.5"), "node set here").of(resolution(copy.deepcopy(RULES)))
    assert again == kept and again[0]["nodes"] is kept[0]["nodes"]  # shared, not evaluated again
    # Another node set (another cluster, or the nodes changed): judged against it.
    other = Admissions(elsewhere, "node set elsewhere").of(resolution(copy.deepcopy(RULES)))
    assert [p["verdict"] for p in kept] == ["node", "wildcard"]
    assert [p["verdict"] for p in other] == ["foreign", "wildcard"]
    assert other == Admissions(elsewhere).of(resolution(RULES))  # as without the worker's cache


def test_a_records_inputs_change_with_any_rule_field_or_node_set_and_only_then():
    def inputs(res: Resolution, node_inputs: str = "nodes") -> str:
        return inputs_of(res, Admissions(nodes("10.20.0.5")), node_inputs)

    same = inputs(resolution(RULES))
    assert inputs(resolution(copy.deepcopy(RULES))) == same
    changed_rule = copy.deepcopy(RULES)
    changed_rule[1]["rw_rule"] = ["sys"]
    assert inputs(resolution(changed_rule)) != same
    assert inputs(resolution(RULES, role="qtree policy")) != same
    assert inputs(resolution(RULES), node_inputs="other nodes") != same
    unread = resolution(RULES)
    unread.gates[0].unread = True
    assert inputs(unread) != same


def test_volumes_admitted_by_their_chain_alone_share_its_list_and_others_get_their_own():
    admissions = Admissions(nodes("10.20.0.5"))
    first, second = admissions.of(resolution(RULES)), admissions.of(resolution(copy.deepcopy(RULES)))
    assert second is first  # one list: what is worked out of it, once (access summaries, uid-gid)
    unreadable = Gate("export-policy", "pol", "ontap-a", "volume policy", rules=RULES, unreadable=["rule 3"])
    extended = admissions.of(Resolution("PersistentVolume/pv-2", ["team-a"], "trident", gates=[unreadable]))
    assert extended[: len(first)] == first and len(extended) == len(first) + 1
    assert extended is not first and len(first) == 2  # the shared list is never extended


def test_records_sharing_a_party_list_name_the_same_nodes_worked_out_once():
    admissions = Admissions(nodes("10.20.0.5"))
    shared = admissions.of(resolution(RULES))
    own = copy.deepcopy(shared)  # equal, but a list of its own
    records = {"pv-1": {"admitted": shared}, "pv-2": {"admitted": shared}, "pv-3": {"admitted": own}}
    admitted = AdmittedNodes(records)
    assert admitted.by_pv["pv-1"] is admitted.by_pv["pv-2"]  # one list, worked out once
    assert admitted.by_pv["pv-3"] is not admitted.by_pv["pv-1"]
    assert (
        admitted.by_pv["pv-3"]
        == admitted.by_pv["pv-1"]
        == AdmittedNodes({"pv-1": {"admitted": own}}).by_pv["pv-1"]
    )
    assert "pv-4" not in AdmittedNodes({"pv-4": {"admitted": []}}).by_pv


def test_what_is_worked_out_of_a_party_list_is_worked_out_once_per_list():
    worked = []
    per_list = PerPartyList(lambda parties: worked.append(parties) or len(parties))
    shared, equal = [{"verdict": "node"}], [{"verdict": "node"}]
    assert [per_list(shared), per_list(shared), per_list(equal)] == [1, 1, 1]
    assert worked == [shared, equal] and worked[1] is equal  # an equal list of its own is its own


def test_the_party_naming_a_node_is_looked_for_once_per_list_the_pvs_share():
    # An export of every node: one party per node, one list behind a hundred PVs; a party without
    # access names node-3 first and is passed over.
    parties = [{"access": "write", "addresses": [], "nodes": [f"node-{i}"]} for i in range(50)]
    parties.insert(10, {"access": "none", "addresses": [], "nodes": ["node-3"]})
    records = {f"pv-{i:03}": {"admitted": parties} for i in range(100)}
    admitted = AdmittedNodes(records)
    admission = NodeAdmission(admitted, lambda kind: True)
    looked, kind_of = [], admitted.kind_of
    admitted.kind_of = lambda party: looked.append(party) or kind_of(party)
    asked = {pv: f"node-{(i * 7) % 50}" for i, pv in enumerate(records)}
    found = {pv: admission.party(pv, node) for pv, node in asked.items()}
    assert found == {
        pv: next(p for p in parties if p["access"] != "none" and node in p["nodes"])
        for pv, node in asked.items()
    }
    assert found["pv-000"]["nodes"] == ["node-0"] and admission.party("pv-099", "node-3")["access"] == "write"
    # Read up to the party the first time, whole the second, then never again (each PV read anew: 2,500).
    assert len(looked) <= 2 * len(parties)
