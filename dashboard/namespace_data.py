"""A namespace's data as a tree for its page: each PVC → its PV → the array object behind it (volume,
qtree, LUN, NVMe namespace, SolidFire volume), with the access control that decides who may mount it
and every party it admits, with verdicts (arrays/volume_access.py's derived records, read through
`dashboard.queries.namespace_contents`); then PVs the namespace claims with no current PVC, and pods'
inline volumes.  Each volume also says how many paths from outside its trust boundary reach it.

The objects are the namespace's own (read through the reader's scope); the free text an access record
carries is scrubbed of other tenants' names all the same (tenancy/redaction.py).
"""

from inventory.constants import SEVERITY_RANK
from inventory.fields import as_list, as_mapping, as_text
from inventory.models import InventoryObject, Snapshot
from inventory.refs import k8s_ref
from tenancy.boundaries import tenant_of_namespace
from tenancy.redaction import Reader, scrub
from tenancy.scope import Scope

ARRAY_OBJECT_KINDS = {
    "ontap.Volume": "ONTAP volume",
    "ontap.Qtree": "ONTAP qtree",
    "ontap.Lun": "ONTAP LUN",
    "ontap.NvmeNamespace": "ONTAP NVMe namespace",
    "solidfire.Volume": "SolidFire volume",
}
PARTY_TEXT = ("party", "via", "detail", "note")  # an admitted party's fields that are free text
# A volume's admitted parties listed on the page, and the nodes named per party; the rest counted.  An
# igroup or export of every node admits each of them: 250 rows per volume at 500 namespaces, a
# thousand at bench scale, made the page 1.3 MB of them.  Parties that are not one of the cluster's
# nodes (foreign hosts, wildcards, departed nodes, secrets) are what the page is read for: listed first.
PARTIES_LISTED = 20
NODES_LISTED = 10


def namespace_tenant(snapshot: Snapshot, namespace: str, scope: Scope) -> str:
    """The namespace's tenant (tenancy.boundaries' one definition), read through the reader's scope."""
    data = (
        InventoryObject.objects.as_of(snapshot)
        .restrict(scope)
        .filter(scope="", kind="Namespace", name=namespace)
        .values_list("data", flat=True)
        .first()
    )
    return tenant_of_namespace(namespace, data, snapshot.cluster.tenant_label)


def _access_record(record: dict | None, reader: Reader) -> dict | None:
    """An access record as a page shows it: the kind of array object in words, free text scrubbed."""
    if record is None:
        return None
    shown = {**record, "problem": scrub(as_text(record.get("problem")), reader)}
    obj = as_mapping(record.get("object"))
    shown["object_kind"] = ARRAY_OBJECT_KINDS.get(as_text(obj.get("kind")), as_text(obj.get("kind")))
    parties = [party for party in as_list(record.get("admitted")) if isinstance(party, dict)]
    listed = _listed_parties(parties)
    shown["admitted"] = [_party(party, reader) for party in listed]
    unlisted: dict[str, int] = {}
    listed_ids = {id(party) for party in listed}
    for party in parties:
        if id(party) not in listed_ids:
            verdict = as_text(party.get("verdict")) or "unknown"
            unlisted[verdict] = unlisted.get(verdict, 0) + 1
    shown["unlisted"] = sorted(unlisted.items(), key=lambda item: (item[0] == "node", item[0]))
    shown["unlisted_total"] = len(parties) - len(listed)
    return shown


def _listed_parties(parties: list[dict]) -> list[dict]:
    """At most PARTIES_LISTED of a volume's parties, those that are not a node of the cluster first,
    in the array's order."""
    others = [i for i, party in enumerate(parties) if party.get("verdict") != "node"]
    nodes = [i for i, party in enumerate(parties) if party.get("verdict") == "node"]
    chosen = sorted((others + nodes)[:PARTIES_LISTED])
    return [parties[i] for i in chosen]


def _party(party: dict, reader: Reader) -> dict:
    """One admitted party as the page lists it: free text scrubbed, its nodes named up to NODES_LISTED."""
    shown = {
        **party,
        **{key: scrub(party[key], reader) for key in PARTY_TEXT if isinstance(party.get(key), str)},
    }
    for key in ("nodes", "stale_nodes"):
        names = as_list(party.get(key))
        shown[key] = names[:NODES_LISTED]
        shown[f"more_{key}"] = max(0, len(names) - NODES_LISTED)
    return shown


def _reached(paths: list[dict], refs: set[str]) -> dict:
    """How many paths from outside the trust boundary reach any of `refs`, and the worst of them."""
    found = [p for p in paths if refs & set(p.get("data") or [])]
    severities = [p.get("severity", "info") for p in found]
    worst = max(severities, key=lambda s: SEVERITY_RANK.get(s, -1)) if severities else ""
    return {"count": len(found), "worst": worst}


def _array_ref(record: dict | None) -> str:
    obj = as_mapping((record or {}).get("object"))
    if not (record and record.get("array") and obj.get("kind")):
        return ""
    return f"array:{record['array']}/{obj['kind']}/{obj.get('name', '')}"


def data_tree(contents: dict, namespace: str, outside_paths: list[dict], reader: Reader) -> dict:
    """`contents` (dashboard.queries.namespace_contents) arranged PVC → PV → array object.

    `outside_paths`: the redacted paths from outside the trust boundary, to count what reaches each
    volume."""
    pvs = {pv.name: pv for pv in contents["pvs"]}
    records = {as_text(r.get("subject")): r for r in contents["volume_access"]}
    mounted: dict[str, list[str]] = {}
    for pod in contents["pods"]:
        for volume in as_list(as_mapping(pod.data.get("spec")).get("volumes")):
            claim = as_mapping(as_mapping(volume).get("persistentVolumeClaim")).get("claimName")
            if isinstance(claim, str):
                mounted.setdefault(claim, []).append(pod.name)

    def volume(pv, refs: set[str]) -> dict:
        record = records.get(k8s_ref("PersistentVolume", pv.name)) if pv is not None else None
        if pv is not None:
            refs.add(k8s_ref("PersistentVolume", pv.name))
        if array_ref := _array_ref(record):
            refs.add(array_ref)
        return {"pv": pv, "access": _access_record(record, reader), "reached": _reached(outside_paths, refs)}

    claims, bound = [], set()
    for pvc in contents["pvcs"]:
        spec = as_mapping(pvc.data.get("spec"))
        pv = pvs.get(as_text(spec.get("volumeName")))
        if pv is not None:
            bound.add(pv.name)
        refs = {k8s_ref("PersistentVolumeClaim", pvc.name, namespace)}
        claims.append({"pvc": pvc, "mounted_by": mounted.get(pvc.name, []), **volume(pv, refs)})
    unclaimed = [volume(pv, set()) for name, pv in sorted(pvs.items()) if name not in bound]
    inline = [
        _access_record(record, reader)
        for subject, record in sorted(records.items())
        if subject.startswith("Pod/")  # InlineVolumeAccess: "Pod/<namespace>/<pod> volume <name>"
    ]
    return {"claims": claims, "unclaimed": unclaimed, "inline": inline}
