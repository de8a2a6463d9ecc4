"""The floor: every list a snapshot reads (every Kubernetes kind, every array collection), fetched
as raw JSON in pages and parsed once, nothing else.  What no client of these APIs can go below.

The cyclic garbage collector is paused throughout, as a snapshot pauses it while it reads
(inventory/snapshotting.py): a floor that left it running would count its rescans of every parsed
page, work the product does not do (at the bench scale they doubled the floor: 10.4 s against 4.6)."""

import time

import orjson
import requests

from arrays.credentials import resolve
from arrays.sources.contract import ONTAP_COLLECTIONS, SOLIDFIRE_METHODS
from inventory.kinds import KINDS
from inventory.sources.kubernetes import api_client_from_kubeconfig, iter_list_pages
from inventory.sources.parsing import gc_paused


def kubernetes_floor(kubeconfig: str, page_size: int) -> int:
    objects = 0
    with api_client_from_kubeconfig(kubeconfig) as client:
        for info in KINDS:
            for page in iter_list_pages(client, info, page_size=page_size):
                objects += len(page.get("items") or [])
    return objects


def array_floor(array: dict, page_size: int) -> int:
    """`array`: the settings an admin configures (arrays.models.Array's fields, as a dict)."""
    session = requests.Session()
    session.auth = resolve(array["credentials"])
    ca = array["ca_bundle"]  # per request: REQUESTS_CA_BUNDLE in the environment beats session.verify
    base, records = f"https://{array['host']}:{array['port']}", 0
    if array["kind"] == "ontap":
        for path in ONTAP_COLLECTIONS:
            url = f"{base}{path}?fields=*&max_records={page_size}"
            while url:
                body = orjson.loads(session.get(url, timeout=60, verify=ca).content)
                records += len(body.get("records") or [])
                next_link = ((body.get("_links") or {}).get("next") or {}).get("href")
                url = f"{base}{next_link}" if next_link else None
    else:
        for method, field in SOLIDFIRE_METHODS.items():
            payload = {"method": method, "params": {}, "id": 1}
            body = orjson.loads(
                session.post(f"{base}/json-rpc/12.3", json=payload, timeout=60, verify=ca).content
            )
            value = (body.get("result") or {}).get(field)
            records += len(value) if isinstance(value, list) else 1
    return records


def floor(kubeconfig: str, arrays: list[dict], page_size: int) -> tuple[float, float, int]:
    """(seconds, this process's CPU seconds, objects and array records fetched)."""
    with gc_paused():
        started, cpu = time.perf_counter(), time.process_time()
        objects = kubernetes_floor(kubeconfig, page_size)
        objects += sum(array_floor(array, page_size) for array in arrays)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, objects
