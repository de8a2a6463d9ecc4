"""`orphaned-backend-volume`: data with no live owner that the array still serves.

Two situations:
- an array object named with a Trident backend's storage prefix on that backend's SVM that backs no
  PV (the join's `unbacked` facts: volumes, qtrees, LUNs).  Objects of other workloads on a shared
  SVM carry no prefix and are not ours to judge.  An offline volume (or a qtree or LUN in one) is not
  served, so it does not fire;
- a Released PV whose backend object is still exported or mapped: its access record admits some
  party (an export rule, an igroup initiator, an NVMe host, an access group or CHAP account).
A TridentVolume marked `orphaned` is the reverse (Trident lost the array object): a broken link,
never this finding.  The former owner is the Released PV's claimRef namespace, else the namespace a
TridentVolume of the same internal name records; without one the finding is the cluster's.
"""

from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.analysis.storage_backing import record_object_ref, tvol_of_pv
from exposure.rules.base import Hit, Rule
from inventory.fields import as_mapping as _mapping
from inventory.refs import OUTSIDE, array_ref, k8s_ref

SLUG = "orphaned-backend-volume"
SERVED_STATES = (None, "", "online")


def _tvols_by_internal_name(ctx) -> dict[str, tuple[str, dict]]:
    return ctx.memo(
        "orphaned_backend_volume.tvols",
        lambda: {
            str(_mapping(t.get("config")).get("internalName")): (name, t)
            for (_, name), t in ctx.state.of_kind("TridentVolume").items()
            if _mapping(t.get("config")).get("internalName")
        },
    )


def _backend_refs(ctx) -> dict[str, str]:
    return ctx.memo(
        "orphaned_backend_volume.backends",
        lambda: {
            str(b.get("backendName")): k8s_ref("TridentBackend", name, namespace)
            for (namespace, name), b in ctx.state.of_kind("TridentBackend").items()
            if b.get("backendName")
        },
    )


def _holder_volume(records, kind: str, key: str, record: dict) -> dict:
    """The FlexVol an object lives in (itself for a volume)."""
    if kind == "ontap.Volume":
        return record
    svm = key.split("/", 1)[0]
    holder = (record.get("volume") or (record.get("location") or {}).get("volume") or {}).get("name")
    return (records.get("ontap.Volume", f"{svm}/{holder}") or {}) if holder else {}


def _names(kind: str, key: str, record: dict) -> list[str]:
    """Names Trident could have given the object: the volume, qtree, or the LUN's FlexVol."""
    names = [str(record.get("name") or key.rsplit("/", 1)[-1])]
    if kind == "ontap.Lun":
        names.append(str(((record.get("location") or {}).get("volume") or {}).get("name") or ""))
    return [n for n in names if n]


def _unbacked_hits(ctx):
    for entry in ctx.join_facts.get("unbacked") or []:
        if not isinstance(entry, dict):
            continue
        array, kind, key = entry.get("array") or "", entry.get("kind") or "", entry.get("name") or ""
        records = ctx.state.arrays.get(array)
        record = records.get(kind, key) if records else None
        if record is None:
            continue
        if _holder_volume(records, kind, key, record).get("state") not in SERVED_STATES:
            continue
        tvols = _tvols_by_internal_name(ctx)
        tvol_name, tvol = next((tvols[n] for n in _names(kind, key, record) if n in tvols), ("", None))
        owner = _mapping((tvol or {}).get("config")).get("namespace") or ""
        obj = array_ref(array, kind, key)
        backend = entry.get("backend")
        backend_ref = _backend_refs(ctx).get(backend, "") if isinstance(backend, str) else ""
        tvol_ref = k8s_ref("TridentVolume", tvol_name, ctx.trident_namespace) if tvol else ""
        has_data = _holder_volume(records, kind, key, record).get("has_data")
        yield Hit(
            identity=(obj,),
            severity=RULE.severity,
            title=f"{kind.removeprefix('ontap.')} {key} on {array} backs no PV",
            namespaces=[owner] if isinstance(owner, str) and owner else [],
            evidence={"object": obj, "backend": entry.get("backend") or "", "owner": owner},
            paths=[
                _path(backend_ref or obj, f"storage prefix of backend {entry.get('backend')}", obj, owner)
            ],
            objects=[r for r in (backend_ref, tvol_ref, obj) if r],
            arrays={array},
            detail=(
                f"named with backend {entry.get('backend')}'s storage prefix on its SVM, but no PV uses it"
                f"{'; it holds data' if has_data else ''}{f'; former owner {owner}' if owner else ''}."
            ),
        )


def _served(record: dict) -> bool:
    return bool(record.get("admitted"))


def _released_hits(ctx):
    for (_, name), pv in ctx.state.of_kind("PersistentVolume").items():
        if _mapping(pv.get("status")).get("phase") != "Released":
            continue
        record = ctx.volume_access.get(name) or {}
        obj = record_object_ref(ctx, record)
        tvol_name, tvol = tvol_of_pv(ctx, pv)
        if not obj or (tvol or {}).get("orphaned") or not _served(record):
            continue
        claim = _mapping(_mapping(pv.get("spec")).get("claimRef"))
        owner = claim.get("namespace") or _mapping((tvol or {}).get("config")).get("namespace") or ""
        pv_ref = k8s_ref("PersistentVolume", name)
        tvol_ref = k8s_ref("TridentVolume", tvol_name.lower(), ctx.trident_namespace)  # as looked up
        admitted = [p.get("party") for p in record.get("admitted") or [] if isinstance(p, dict)]
        parties = sorted({p for p in admitted if isinstance(p, str) and p})
        yield Hit(
            identity=(pv_ref, obj),
            severity=RULE.severity,
            title=f"Released PersistentVolume {name}: its backend object is still exported or mapped",
            namespaces=[owner] if isinstance(owner, str) and owner else [],
            evidence={"object": obj, "admitted": parties},
            paths=[
                _path(
                    pv_ref, "status.phase Released; the array still admits " + ", ".join(parties), obj, owner
                )
            ],
            objects=[r for r in (pv_ref, tvol_ref if tvol else "", obj) if r],
            arrays={record.get("array")} - {None, ""},
            detail=f"its claim is gone, yet {obj} still admits {', '.join(parties)}.",
        )


def _path(hop_ref: str, via: str, obj: str, owner: str) -> ExposurePath:
    return ExposurePath(
        actor=Actor("outside-host", "hosts the array admits to it", OUTSIDE),
        hops=[Hop(hop_ref, via)],
        data=[obj],
        namespace=owner,
        access="write",
        rule=SLUG,
        severity=RULE.severity,
    )


def evaluate(ctx):
    yield from _unbacked_hits(ctx)
    yield from _released_hits(ctx)


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline=(
        "Namespaces are the trust boundaries: data whose owner is gone belongs to nobody, yet the array "
        "still serves it."
    ),
    remediation=(
        "Decide whether the data is still needed: delete the backend object (or import it into a PV with "
        "`tridentctl import volume` for its rightful owner), and remove its export policy rules or LUN "
        "maps meanwhile."
    ),
    evidence_key="the array object and who the array still admits to it",
    reads=("PersistentVolume", "TridentVolume", "TridentBackend"),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="the former owner's namespace if known, else cluster",
)
