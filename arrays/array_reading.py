"""Reading the arrays a cluster's Trident backends use, as part of that cluster's snapshot.

Only arrays an admin configured are read, at their configured endpoint.  A backend whose array
is not configured is recorded as such ("array not read"), a fact rather than a failure; an
array that is configured but cannot be read makes the snapshot partial for everything read
from it, with its reason.
"""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from arrays.backends import backend_info, link_to_array
from arrays.credentials import CredentialsError, resolve
from arrays.models import Array
from arrays.sources.backend_dump import DumpedArray
from arrays.sources.contract import ONTAP_COLLECTIONS, SOLIDFIRE_METHODS, ArrayEndpoint
from inventory.constants import ONTAP, SOLIDFIRE
from inventory.models import Cluster
from inventory.sources import ArrayReading, Collection

logger = logging.getLogger(__name__)

ArrayReader = Callable[[Array], Collection]


def source_keys(family: str) -> tuple[str, ...]:
    return ONTAP_COLLECTIONS if family == ONTAP else tuple(SOLIDFIRE_METHODS)


def unreadable(family: str, reason: str) -> Collection:
    return Collection(unread=dict.fromkeys(source_keys(family), reason))


def endpoint_for(array: Array) -> ArrayEndpoint:
    username, password = resolve(array.credentials)
    verify: bool | str = (array.ca_bundle or True) if array.verify_tls else False
    return ArrayEndpoint(array.kind, array.host, array.port, array.scheme, username, password, verify)


def read_live_array(array: Array) -> Collection:
    """Read one configured array through its vendor library; failures become unread reasons."""
    try:
        endpoint = endpoint_for(array)
    except CredentialsError as error:
        return unreadable(array.kind, str(error))
    if array.kind == ONTAP:
        from arrays.sources.ontap import collect_ontap

        return collect_ontap(endpoint)
    from arrays.sources.solidfire import collect_solidfire

    return collect_solidfire(endpoint)


def summarize_backends(trident_backends: list[dict], link) -> dict:
    """backend uuid -> what the snapshot records of it; `link(info)` names its array or None."""
    summaries = {}
    for raw in trident_backends:
        info = backend_info(raw)
        summaries[info.uuid or info.name] = {
            "name": info.name,
            "driver": info.driver,
            "svm": info.svm,
            "array": None if info.is_cloud else link(info),
            "access_rules": "from Trident's config (cloud)" if info.is_cloud else None,
        }
    return summaries


def linked_arrays(
    cluster: Cluster, trident_backends: list[dict]
) -> tuple[dict[str, tuple[Array, list[str]]], dict]:
    """(array name -> (array, backend names using it), backend uuid -> summary for the snapshot's facts)."""
    configured = list(Array.objects.filter(enabled=True))
    linked: dict[str, tuple[Array, list[str]]] = {}

    def link(info):
        array = link_to_array(info, configured)
        if array is None:
            return None
        linked.setdefault(array.name, (array, []))[1].append(info.name)
        return array.name

    summaries = summarize_backends(trident_backends, link)
    for array in cluster.arrays.filter(enabled=True):  # admin-added arrays, e.g. for static NFS PVs
        linked.setdefault(array.name, (array, []))
    return linked, summaries


def attach_dumped_arrays(collection: Collection, dumped: list[DumpedArray], arrays_expected: bool) -> None:
    """The offline counterpart of `read_arrays`: a dump names, per file, the backend it belongs to.

    A file is stored under the configured array that backend links to (so a live snapshot and an
    import of its dump agree), else under the array the file names, else under the backend's name.
    When arrays are expected (the dump has a `backends/` file, or the cluster stored array records
    before), an ONTAP or SolidFire backend without a file is unread, never "no array".
    """
    configured = list(Array.objects.filter(enabled=True))
    by_backend = {}
    for item in dumped:
        by_backend.setdefault(item.backend, item)
    placed: set[str] = set()
    missing: dict[str, str] = {}  # backend name -> why its array answers are unread
    placeholders: set[str] = set()  # scopes held only by backends without a file

    def link(info):
        item = by_backend.get(info.name) or by_backend.get(info.uuid)
        array = link_to_array(info, configured)
        if item is None:
            if arrays_expected and info.family in (ONTAP, SOLIDFIRE):
                scope = array.name if array is not None else info.name
                missing[info.name] = f"backends/ holds no file for Trident backend {info.name}"
                if scope not in collection.arrays:
                    unread = unreadable(info.family, missing[info.name])
                    collection.arrays[scope] = ArrayReading(info.family, unread)
                    placeholders.add(scope)
                collection.arrays[scope].backends.append(info.name)
            return None
        scope = array.name if array is not None else (item.array or item.backend)
        placed.add(item.backend)
        if scope in placeholders:  # another backend's file has this array's answers after all
            placeholders.discard(scope)
            collection.arrays[scope].collection = item.collection
        reading = collection.arrays.setdefault(scope, ArrayReading(item.family, item.collection))
        reading.backends.append(info.name)
        return scope

    summaries = summarize_backends(collection.mappings("TridentBackend"), link)
    for summary in summaries.values():
        if summary["name"] in missing:
            summary["unread"] = missing[summary["name"]]
    collection.facts["backends"] = summaries
    names = {array.name for array in configured}
    for item in dumped:  # files that name no Trident backend: admin-added arrays (static NFS)
        if item.backend in placed:
            continue
        scope = item.array or item.backend
        if scope not in names and "TridentBackend" in collection.objects:
            collection.warnings.append(
                f"{item.file or item.backend}: backend {item.backend} matches no Trident backend nor "
                "configured array; stored as an array of its own"
            )
        collection.arrays.setdefault(scope, ArrayReading(item.family, item.collection))


def backends_unread(collection: Collection) -> dict[str, str]:
    """Trident backend name -> why its array answers were not read (a dump that lacks them)."""
    return {
        summary["name"]: summary["unread"]
        for summary in (collection.facts.get("backends") or {}).values()
        if summary.get("unread")
    }


def read_arrays(cluster: Cluster, collection: Collection, reader: ArrayReader = read_live_array) -> None:
    """Add the linked arrays' readings (and the backends fact) to a cluster's Kubernetes collection."""
    if "TridentBackend" not in collection.objects:
        return  # without the backends we cannot tell which arrays matter; their inventory stays as it was
    linked, summaries = linked_arrays(cluster, collection.mappings("TridentBackend"))
    collection.facts["backends"] = summaries
    if not linked:
        return
    with ThreadPoolExecutor(max_workers=min(4, len(linked)), thread_name_prefix="array-read") as pool:
        results = dict(
            zip(linked, pool.map(lambda item: _safe_read(reader, item[0]), linked.values()), strict=True)
        )
    for name, (array, backends) in linked.items():
        collection.arrays[name] = ArrayReading(
            family=array.kind, collection=results[name], backends=sorted(backends)
        )


def _safe_read(reader: ArrayReader, array: Array) -> Collection:
    try:
        return reader(array)
    except Exception as error:  # one array misbehaving must not cost the others, nor the cluster
        logger.warning("array %s could not be read: %s", array.name, type(error).__name__)
        return unreadable(array.kind, f"{type(error).__name__}: {error}")
