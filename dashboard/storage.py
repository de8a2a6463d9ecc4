"""The arrays and backends page's reader: what Trident says of each backend, whether each array was
read (and why not), and who the access control of the volumes admits, with the verdicts.

Everything about access comes from the snapshot's derived records (arrays/volume_access.py: one per
PV and inline pod volume, in its namespace), read through `.restrict(scope)`: a tenant sees only the
backends and arrays that hold their data, and only the gates of their own volumes, so no other
tenant's volume (nor the per-volume export policy named after it) is named.  Volumes are counted
from each namespace's summary (arrays/access_summary.py), never by reading every record: a page
reads the summaries and the one record each shown group takes as its example.  The backends come
from the snapshot's facts (a cluster-level summary); what their TridentBackend objects say in full,
the configured arrays and what could not be joined are for admins.
"""

from collections import defaultdict

from django.core.paginator import Paginator

from arrays.access_summary import ACCESS_SUMMARY, SUMMARIES_SINCE, VERDICTS
from arrays.backends import backend_info
from arrays.models import Array
from arrays.stored_parties import with_admitted
from arrays.volume_access import INLINE_VOLUME_ACCESS, VOLUME_ACCESS
from dashboard.snapshot_history import TextFor
from inventory.models import InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE
from tenancy.scope import Scope

ACCESS_GROUPS_PER_PAGE = 25
# What an admin reads of a backend's config besides its name and driver (kept fields only).
BACKEND_SETTINGS = (
    "autoExportPolicy",
    "autoExportCIDRs",
    "exportPolicy",
    "useCHAP",
    "UseCHAP",
    "exportRule",
    "nfsMountOptions",
    "AccessGroups",
    "TenantName",
)
PARTIES_SHOWN = 10  # of a group's example (an igroup of every node names hundreds)


def access_records(snapshot: Snapshot, scope: Scope):
    """The snapshot's per-volume access records the reader may see."""
    return (
        InventoryObject.objects.as_of(snapshot)
        .restrict(scope)
        .filter(scope=DERIVED_SCOPE, kind__in=[VOLUME_ACCESS, INLINE_VOLUME_ACCESS])
    )


def summary_groups(snapshot: Snapshot, scope: Scope) -> list[list]:
    """Every group of the namespace summaries the reader may see (arrays/access_summary.py), each
    [array, backend, array status, unknown, verdicts, volumes, [example kind, name], namespace]:
    one query on small rows, however many volumes the cluster has."""
    rows = (
        InventoryObject.objects.as_of(snapshot)
        .restrict(scope)
        .filter(scope=DERIVED_SCOPE, kind=ACCESS_SUMMARY)
        .values_list("namespace", "data")
    )
    return [[*group, namespace] for namespace, data in rows for group in (data or {}).get("groups") or ()]


def volumes_held(
    snapshot: Snapshot, scope: Scope, groups: list[list] | None = None
) -> dict[tuple[str, str], int]:
    """(array, backend) -> how many of the reader's volumes it holds."""
    held: dict[tuple[str, str], int] = defaultdict(int)
    for array, backend, _, _, _, n, *_ in summary_groups(snapshot, scope) if groups is None else groups:
        held[(array, backend)] += n
    return dict(held)


def backend_rows(snapshot: Snapshot, scope: Scope, held: dict[tuple[str, str], int]) -> list[dict]:
    """Each Trident backend of the snapshot (a tenant: those holding their volumes), what Trident
    says of it, the array it is linked to and whether that array was read."""
    per_backend: dict[str, int] = defaultdict(int)
    for (_, backend), n in held.items():
        per_backend[backend] += n
    trident = _trident_says(snapshot) if scope.admin else {}
    rows = []
    backends = (snapshot.facts or {}).get("backends") or {}
    for uuid, backend in sorted(backends.items(), key=lambda item: str(item[1].get("name", ""))):
        name = str(backend.get("name", ""))
        if not scope.admin and name not in per_backend:
            continue
        rows.append(
            {
                **backend,
                "uuid": uuid,
                "status": _backend_status(backend, snapshot),
                "unread": not backend.get("array") and not backend.get("access_rules"),
                "volumes": per_backend.get(name, 0),
                "trident": trident.get(uuid) or trident.get(name),
            }
        )
    return rows


def _backend_status(backend: dict, snapshot: Snapshot) -> str:
    if backend.get("access_rules"):
        return str(backend["access_rules"])
    if backend.get("array"):
        failed = [key for key in snapshot.unread or {} if key.startswith(f"{backend['array']}:")]
        return f"read from array {backend['array']}" + (
            f" ({len(failed)} collection{'s' if len(failed) > 1 else ''} not read)" if failed else ""
        )
    if backend.get("unread"):  # a dump without this backend's array answers
        return f"array not read: {backend['unread']}"
    return "array not read: no configured array matches this backend"


def _trident_says(snapshot: Snapshot) -> dict[str, dict]:
    """uuid -> what the TridentBackend object says (admins only: the objects live in Trident's
    namespace).  One query; a cluster has a few dozen backends."""
    objects = (
        InventoryObject.objects.as_of(snapshot)
        .filter(scope="", kind="TridentBackend")
        .values_list("data", flat=True)
    )
    says = {}
    for data in objects:
        info = backend_info(data)
        settings = [(key, _config_text(info.config[key])) for key in BACKEND_SETTINGS if key in info.config]
        state = data.get("state") if isinstance(data, dict) else None
        says[info.uuid or info.name] = {
            "family": info.family,
            "state": state if isinstance(state, str) else "",
            "management_address": info.management_address,
            "data_lif": info.data_lif,
            "storage_prefix": info.storage_prefix,
            "settings": settings,
        }
    return says


def _config_text(value) -> str:
    """A config value as Trident's JSON spells it (true, a list as a, b)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_config_text(item) for item in value) or "(empty)"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_config_text(item)}" for key, item in value.items()) or "(empty)"
    return str(value)


def array_rows(snapshot: Snapshot, scope: Scope, held: dict[tuple[str, str], int]) -> list[dict]:
    """Each array the snapshot read or tried to (a tenant: those holding their volumes): records per
    kind, what was not read and why, the backends that use it."""
    text = TextFor(snapshot.cluster, scope)
    arrays: dict[str, dict] = defaultdict(lambda: {"records": [], "unread": [], "backends": []})
    for key, count in sorted((snapshot.counts or {}).items()):
        array, sep, kind = key.partition(":")
        if sep:
            arrays[array]["records"].append((kind, count))
    for key, reason in sorted((snapshot.unread or {}).items()):
        array, sep, what = key.partition(":")
        if sep:
            arrays[array]["unread"].append(("every collection" if what == "*" else what, text(reason)))
    for backend in ((snapshot.facts or {}).get("backends") or {}).values():
        if backend.get("array"):
            arrays[str(backend["array"])]["backends"].append(str(backend.get("name", "")))
    facts = (snapshot.facts or {}).get("arrays") or {}
    volumes: dict[str, int] = defaultdict(int)
    for (array, _), n in held.items():
        volumes[array] += n
    own_backends = {backend for (_, backend) in held}
    configured = {a.name: a for a in Array.objects.restrict(scope).filter(name__in=list(arrays))}
    rows = []
    for name, row in sorted(arrays.items()):
        if not scope.admin and name not in volumes:
            continue
        families = {kind.split(".", 1)[0] for kind, _ in row["records"]}
        rows.append(
            {
                "name": name,
                "family": ", ".join(sorted(families)),
                "read": bool(row["records"]) and not row["unread"],
                "records": row["records"],
                "record_total": sum(n for _, n in row["records"]),
                "unread": row["unread"],
                "backends": sorted(b for b in row["backends"] if scope.admin or b in own_backends),
                "facts": sorted((str(k), str(v)) for k, v in (facts.get(name) or {}).items()),
                "volumes": volumes.get(name, 0),
                "configured": configured.get(name),  # admins only: Array is admins' table
            }
        )
    return rows


def access_groups(snapshot: Snapshot, scope: Scope, groups: list[list], page_number) -> tuple:
    """The reader's volumes grouped by array, backend, status and the verdicts of what their access
    control admits, worst first within a backend, a page at a time; each group with the parties one
    of its volumes admits (one query for the page's examples)."""
    merged: dict[tuple, list] = {}
    for array, backend, status, unknown, verdicts, n, example, namespace in groups:
        group = merged.setdefault((array, backend, status, unknown, tuple(verdicts)), [0, None])
        group[0] += n
        group[1] = min(group[1] or (namespace, *example), (namespace, *example))
    ordered = sorted(
        merged.items(), key=lambda item: (item[0][0], item[0][1], _severity(item[0][4]), -item[1][0], item[0])
    )
    page = Paginator(ordered, ACCESS_GROUPS_PER_PAGE).get_page(page_number)
    examples = _examples(snapshot, scope, [example for _, (_, example) in page.object_list])
    shown = []
    for (array, backend, status, unknown, verdicts), (n, example) in page.object_list:
        subject, parties = examples.get(example, ("", []))
        parties = [p for p in parties if isinstance(p, dict)]
        shown.append(
            {
                "array": array,
                "backend": backend,
                "array_status": status,
                "unknown": unknown,
                "volumes": n,
                "verdicts": list(verdicts),
                "worst": verdicts[0] if verdicts else "",
                "example": subject,
                "example_namespace": example[0],  # its page lists each volume
                "parties": parties[:PARTIES_SHOWN],
                "parties_hidden": max(len(parties) - PARTIES_SHOWN, 0),
            }
        )
    return page, shown


def _severity(verdicts: tuple) -> tuple:
    """Worst verdicts first; a group that admits no one last."""
    return tuple(VERDICTS.index(v) if v in VERDICTS else len(VERDICTS) for v in verdicts) or (
        len(VERDICTS) + 1,
    )


def _examples(snapshot: Snapshot, scope: Scope, keys: list[tuple]) -> dict[tuple, tuple[str, list]]:
    """(namespace, kind, name) -> (the record's subject, its admitted parties), for a page's groups.
    One query of one arm a record, each on the namespace index: an OR of the keys lets the planner
    factor the kind out and scan every record of the cluster when it has no statistics."""
    arms = [
        access_records(snapshot, scope)
        .filter(namespace=namespace, kind=kind, name=name)
        .values_list("namespace", "kind", "name", "data__subject", "data__admitted", "data__party_lists")
        for namespace, kind, name in keys
    ]
    if not arms:
        return {}
    rows = arms[0].union(*arms[1:], all=True) if len(arms) > 1 else arms[0]
    records = {
        (namespace, kind, name): {"subject": subject, "admitted": admitted, "party_lists": party_lists}
        for namespace, kind, name, subject, admitted, party_lists in rows
    }
    with_admitted(snapshot, records.values())
    return {key: (str(r["subject"] or ""), r["admitted"] or []) for key, r in records.items()}


def storage_view(snapshot: Snapshot, scope: Scope, page_number) -> dict:
    summary = summary_groups(snapshot, scope)
    held = volumes_held(snapshot, scope, summary)
    page, groups = access_groups(snapshot, scope, summary, page_number)
    join = (snapshot.facts or {}).get("join") or {}
    return {
        "backends": backend_rows(snapshot, scope, held),
        "arrays": array_rows(snapshot, scope, held),
        "page": page,
        "groups": groups,
        "volume_total": sum(held.values()),
        # Snapshots derived before the summaries existed: counted at the next snapshot, not "none".
        "summarised": (snapshot.facts or {}).get("derivation", 0) >= SUMMARIES_SINCE,
        # Array objects that back no PV name the volumes of no one now, but a broken link names a
        # TridentVolume (a PV's name): admins only, like the objects themselves.
        "join": join if scope.admin else {},
    }
