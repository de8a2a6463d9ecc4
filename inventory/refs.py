"""Object references: how a stored object is named wherever it is mentioned (paths, findings, pages).

- Kubernetes objects: `Kind/namespace/name`, or `Kind/name` when cluster-scoped (the case
  manifest's form);
- array records: `array:<array>/<stored kind>/<record key>` (e.g.
  `array:ontap-a/ontap.ExportPolicy/svm_k8s/default`).

A leaf (no imports): the analysis writes references, redaction and the pages read them.
"""

OUTSIDE = "(outside the cluster)"  # the tenant of an actor that is not in the cluster at all
EVERYONE = "(any namespace)"  # the tenant of an actor that is every tenant at once


def k8s_ref(kind: str, name: str, namespace: str = "") -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def array_ref(array: str, kind: str, key: str) -> str:
    return f"array:{array}/{kind}/{key}"


def parse_ref(ref: str) -> tuple[str, str, str, str]:
    """(scope, kind, namespace, name); scope is "" for Kubernetes objects, else the array's name.

    Array keys may contain "/" (`svm/name`), so they are returned whole as the name.
    """
    if ref.startswith("array:"):
        array, kind, key = ref.removeprefix("array:").split("/", 2)
        return array, kind, "", key
    parts = ref.split("/", 2)
    if len(parts) == 3:
        return "", parts[0], parts[1], parts[2]
    return "", parts[0], "", parts[1]
