"""Writing an offline dump from a collection: the shapes `--from-dump` reads back.

`kubernetes/<plural>.json` holds each kind as the API's typed list (so an empty kind is still
"read and empty"); `backends/<backend>.json` each array's answers, one file per Trident backend
that uses the array, naming the array (so an import stores them once, under the live name).
What is written is what a snapshot would store of each object or record (its kept fields, secrets
dropped by inventory/secrets.py), never the raw answers: a dump holds no more than the database.
Files are 0600 and folders 0700.  Secrets are never collected.
"""

from pathlib import Path

import orjson

from arrays.array_kinds import BY_SOURCE_KEY
from arrays.sources.backend_dump import write_backend
from inventory.history import prepare, prepare_array_records
from inventory.kinds import BY_KIND
from inventory.sources import Collection
from inventory.sources.dump_files import private_folder, write_private


def write_dump(collection: Collection, directory: str | Path) -> list[Path]:
    directory = private_folder(Path(directory))
    kubernetes = private_folder(directory / "kubernetes")
    written = []
    for kind, items in collection.objects.items():
        info = BY_KIND[kind]
        body = {
            "kind": f"{kind}List",
            "apiVersion": info.api_version,
            "metadata": {},
            "items": [stored.data for stored in prepare(kind, items, kept=collection.kept).values()],
        }
        path = kubernetes / f"{info.plural}.json"
        written.append(write_private(path, orjson.dumps(body, option=orjson.OPT_INDENT_2)))
    for array_name, reading in collection.arrays.items():
        kept = _kept_answers(reading.family, reading.collection)
        for backend in reading.backends or [array_name]:
            written.append(write_backend(directory, backend, reading.family, kept, array_name))
    return written


def _kept_answers(family: str, answers: Collection) -> Collection:
    """An array's answers reduced to the records as stored (kept fields, derived ones included)."""
    objects = {
        key: [stored.data for stored in prepare_array_records(BY_SOURCE_KEY[(family, key)], records).values()]
        for key, records in answers.objects.items()
    }
    return Collection(objects=objects, unread=answers.unread, facts=answers.facts)
