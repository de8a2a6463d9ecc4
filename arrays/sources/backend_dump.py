"""The `backends/` folder of an offline dump: one JSON file per Trident backend (or admin-added
array) holding the array's raw answers.

    {"type": "ontap", "backend": "<Trident backend name or UUID>", "array": "<array name, optional>",
     "responses": {"/api/protocols/nfs/export-policies": {"records": [...], "num_records": N}, ...}}
    {"type": "solidfire", "backend": "...", "responses": {"ListVolumeAccessGroups": {<result>}, ...}}

A path or method the product reads that a file lacks is unread for that array (the snapshot is
partial for it).  `array` names the array the answers came from (`manage.py dump` writes the
configured array's name), so an import where no array is configured stores backends sharing one
array under that one name, as the live snapshot did.  Array answers can hold secrets (CHAP
secrets in SolidFire accounts and initiators): they are scrubbed on reading and on writing.
"""

from dataclasses import dataclass
from pathlib import Path

import orjson

from arrays.sources.contract import ONTAP_COLLECTIONS, ONTAP_SINGLE_OBJECTS, SOLIDFIRE_METHODS
from inventory.constants import ONTAP, SOLIDFIRE
from inventory.secrets import without_secrets
from inventory.sources import Collection
from inventory.sources.dump_files import DumpError, dump_files, private_folder, write_private

BACKENDS_DIR = "backends"
JSON_SUFFIXES = frozenset({".json"})


@dataclass
class DumpedArray:
    backend: str  # the Trident backend name or UUID the file names (or an admin-added array's name)
    family: str
    collection: Collection
    array: str = ""  # the array the answers came from, when the file says
    file: str = ""  # the file's path inside the dump, for reasons and warnings


def read_backends(directory: str | Path) -> list[DumpedArray]:
    root = Path(directory) / BACKENDS_DIR
    if not root.is_dir():
        return []
    dumped, seen = [], {}
    files = sorted((r, c) for r, c in dump_files(directory, BACKENDS_DIR, JSON_SUFFIXES) if c is not None)
    for relative, content in files:
        try:
            document = orjson.loads(content)
        except orjson.JSONDecodeError as error:
            raise DumpError(relative, None, f"not valid JSON: {error}") from None
        array = _parse(relative, document)
        array.file = relative
        if array.backend in seen:
            raise DumpError(relative, f"backend {array.backend}", f"also described by {seen[array.backend]}")
        seen[array.backend] = relative
        dumped.append(array)
    return dumped


def _parse(relative: str, document) -> DumpedArray:
    if not isinstance(document, dict):
        raise DumpError(relative, None, "must be a JSON object with type, backend and responses")
    family, backend, responses = document.get("type"), document.get("backend"), document.get("responses")
    if family not in (ONTAP, SOLIDFIRE):
        raise DumpError(relative, None, f"type must be {ONTAP!r} or {SOLIDFIRE!r}, not {family!r}")
    if not isinstance(backend, str) or not backend:
        raise DumpError(relative, None, "backend must name a Trident backend (name or UUID) or an array")
    if not isinstance(responses, dict):
        raise DumpError(relative, f"backend {backend}", "responses must be an object")
    array = document.get("array", "")
    if not isinstance(array, str):
        raise DumpError(relative, f"backend {backend}", "array must name the array the answers came from")
    collection = Collection()
    expected = ONTAP_COLLECTIONS if family == ONTAP else tuple(SOLIDFIRE_METHODS)
    for key in expected:
        if key not in responses:
            collection.unread[key] = "not in dump"
            continue
        collection.objects[key] = without_secrets(_records(relative, backend, family, key, responses[key]))
    return DumpedArray(backend, family, collection, array)


def _records(relative: str, backend: str, family: str, key: str, answer) -> list[dict]:
    where = f"backend {backend}, {key}"
    if (
        family == ONTAP
        and key in ONTAP_SINGLE_OBJECTS
        and isinstance(answer, dict)
        and "records" not in answer
    ):
        return [answer]
    if family == ONTAP:
        records = answer.get("records") if isinstance(answer, dict) else None
    else:
        field = SOLIDFIRE_METHODS[key]
        value = answer.get(field) if isinstance(answer, dict) else None
        records = [value] if isinstance(value, dict) else value
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        shape = '{"records": [...]}' if family == ONTAP else f'{{"{SOLIDFIRE_METHODS[key]}": [...]}}'
        raise DumpError(relative, where, f"expected {shape}")
    return records


def write_backend(
    directory: Path, backend: str, family: str, collection: Collection, array: str = ""
) -> Path:
    """Write one array's answers in the dump shape (secrets dropped, mode 0600); returns the file written."""
    responses = {}
    for key, records in collection.objects.items():
        records = without_secrets(records)
        if family == ONTAP:
            responses[key] = records[0] if key in ONTAP_SINGLE_OBJECTS and records else {"records": records}
            if key not in ONTAP_SINGLE_OBJECTS:
                responses[key]["num_records"] = len(records)
        else:
            field = SOLIDFIRE_METHODS[key]
            responses[key] = {field: records[0] if field == "clusterInfo" and records else records}
    document = {
        "type": family,
        "backend": backend,
        **({"array": array} if array else {}),
        "responses": responses,
    }
    path = private_folder(directory / BACKENDS_DIR) / f"{_safe_filename(backend)}.json"
    return write_private(path, orjson.dumps(document, option=orjson.OPT_INDENT_2))


def _safe_filename(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "backend"
