"""Small builders of raw Kubernetes objects for tests that need only a handful."""

import copy
import uuid

from inventory.kinds import BY_KIND, KIND_NAMES
from inventory.models import InventoryObject
from inventory.sources import Collection


def obj(kind, name, namespace=None, *, uid=None, created="2026-01-05T10:00:00Z", **fields):
    info = BY_KIND[kind]
    metadata = {
        "name": name,
        "uid": uid or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}/{namespace}/{name}")),
        "creationTimestamp": created,
        "resourceVersion": "1",
    }
    if info.namespaced:
        metadata["namespace"] = namespace or "default"
    metadata.update(fields.pop("metadata", {}))
    return {"apiVersion": info.api_version, "kind": kind, "metadata": metadata, **fields}


def pod(name, namespace, node="worker-1", **spec):
    return obj(
        "Pod",
        name,
        namespace,
        spec={"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
        status={"phase": "Running", "podIP": "10.244.1.7", "hostIP": "192.0.2.11"},
    )


def collection(objects, *, unread=None, complete=True):
    """A Collection of `objects`; with complete=True every other kind is read and empty."""
    result = Collection()
    if complete:
        result.objects = {kind: [] for kind in KIND_NAMES}
    for item in objects:
        result.objects.setdefault(item["kind"], []).append(copy.deepcopy(item))
    for kind, reason in (unread or {}).items():
        result.objects.pop(kind, None)
        result.unread[kind] = reason
    return result


def finding(cluster, namespace, n=0, *, first_seen, **fields):
    """A finding made by hand (rule privileged-container, high, attributed to `namespace`), for tests
    that need findings opened, resolved or suppressed at chosen times."""
    from exposure.models import Finding, FindingNamespace

    values = {
        "rule": "privileged-container",
        "fingerprint": f"made-{namespace}-{n}",
        "identity": [str(n)],
        "severity": "high",
        "title": f"made finding {n} in {namespace}",
        "namespaces": [namespace],
        "evidence_key": "k",
        "first_seen": first_seen,
        "first_seen_seq": 1,
        "changed_seq": 1,
        **fields,
    }
    made = Finding.objects.create(cluster=cluster, **values)
    FindingNamespace.objects.bulk_create(
        [FindingNamespace(finding=made, namespace=ns) for ns in values["namespaces"]]
    )
    return made


def suppression(finding, created, expires, lifted=None):
    from exposure.models import Suppression

    made = Suppression.objects.create(
        finding=finding,
        reason="accepted",
        expires_at=expires,
        evidence_key=finding.evidence_key,
        lifted_at=lifted,
    )
    Suppression.objects.filter(pk=made.pk).update(created_at=created)  # auto_now_add: set it afterwards
    return made


def finding_events(finding, events) -> None:
    """`events`: (at, kind, detail) of the finding's history."""
    from exposure.models import FindingEvent

    FindingEvent.objects.bulk_create(
        [FindingEvent(finding=finding, at=at, kind=kind, detail=detail) for at, kind, detail in events]
    )


def dashboard_admin(username: str = "root"):
    """A dashboard admin by the named permission (not a superuser): what an admin grants a colleague."""
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user(username, is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="tenancy", codename="view_all_namespaces")
    )
    return User.objects.get(pk=user.pk)  # a fresh object: Django caches permissions per instance


def made_findings(cluster, namespace: str, count: int, *, severities=("low",), prefix="made", **fields):
    """`count` open findings of one rule attributed to `namespace` of `cluster` (a Cluster or its
    name), in two bulk inserts: lists, pages and query counts measured with many findings."""
    from exposure.models import Finding, FindingNamespace
    from inventory.models import Cluster
    from tests.cases.runner import TAKEN_AT

    if isinstance(cluster, str):
        cluster = Cluster.objects.get(name=cluster)
    made = Finding.objects.bulk_create(
        [
            Finding(
                cluster=cluster,
                rule="privileged-container",
                fingerprint=f"{prefix}-{namespace}-{n}",
                identity=[str(n)],
                severity=severities[n % len(severities)],
                title=f"{prefix} finding {n} in {namespace}",
                namespaces=[namespace],
                evidence_key="k",
                first_seen=TAKEN_AT,
                first_seen_seq=1,
                changed_seq=1,
                **fields,
            )
            for n in range(count)
        ]
    )
    FindingNamespace.objects.bulk_create([FindingNamespace(finding=f, namespace=namespace) for f in made])
    return made


def graded_namespaces(cluster, namespaces, *, grade: str, counts: dict):
    """Current grades for `namespaces` of `cluster` (valid since snapshot 1, taken at TAKEN_AT), in
    one bulk insert: lists, charts and query counts measured with many graded namespaces."""
    from exposure.models import NamespaceStatus
    from tests.cases.runner import TAKEN_AT

    return NamespaceStatus.objects.bulk_create(
        [
            NamespaceStatus(
                cluster=cluster,
                namespace=namespace,
                grade=grade,
                counts=counts,
                valid_from=1,
                valid_from_at=TAKEN_AT,
                grade_since=1,
                grade_since_at=TAKEN_AT,
            )
            for namespace in namespaces
        ]
    )


def stored_rows(cluster_name: str) -> set[tuple]:
    """Every inventory row of the cluster as what two runs must agree on: its identity, its digest
    and its life."""
    rows = InventoryObject.objects.filter(cluster__name=cluster_name)
    return set(rows.values_list("scope", "kind", "namespace", "name", "digest", "valid_from", "valid_to"))


def stored_version(cluster, kind, name, *, namespace="", scope="", valid_from=1, valid_to=None):
    """An inventory row written behind the store's back (a run that died, another writer), unsaved."""
    fields = {"data": {}, "digest": "x", "schema_version": 1, "valid_from": valid_from, "valid_to": valid_to}
    return InventoryObject(cluster=cluster, scope=scope, kind=kind, namespace=namespace, name=name, **fields)
