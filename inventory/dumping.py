"""Writing an offline dump from a collection: the same raw shapes `--from-dump` reads back.

`kubernetes/<plural>.json` holds each kind as the API's typed list (so an empty kind is still
"read and empty"); `backends/<backend>.json` each array's answers, one file per Trident backend
that uses the array, naming the array (so an import stores them once, under the live name).
Secret fields are removed first; Secrets themselves are never collected.
"""

from pathlib import Path

import orjson

from .kept_fields import scrub_secrets
from .kinds import BY_KIND
from .sources import Collection
from .sources.backend_dump import write_backend


def write_dump(collection: Collection, directory: str | Path) -> list[Path]:
    directory = Path(directory)
    kubernetes = directory / "kubernetes"
    kubernetes.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, items in collection.objects.items():
        info = BY_KIND[kind]
        body = {
            "kind": f"{kind}List",
            "apiVersion": info.api_version,
            "metadata": {},
            "items": scrub_secrets(items),
        }
        path = kubernetes / f"{info.plural}.json"
        path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        written.append(path)
    for array_name, reading in collection.arrays.items():
        for backend in reading.backends or [array_name]:
            written.append(write_backend(directory, backend, reading.family, reading.collection, array_name))
    return written
