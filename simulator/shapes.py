"""Builders for objects in the shapes a real API server (and Trident) serves them.

Only shapes live here: which objects exist, and how they relate, is decided by
`world.py` and `cases.py`.  Field names follow `kubectl get -o json` of Kubernetes 1.30
and Trident 25.02 (see shared/reference/trident-ontap-solidfire.md).  Substructures that
never change (tolerations, token volumes) are shared between objects to keep a
100,000-pod cluster in memory; the world never mutates a published object in place.
"""

import base64
from datetime import datetime
from functools import lru_cache

from inventory.constants import DEFAULT_TRIDENT_NAMESPACE, TRIDENT_CSI_DRIVER
from simulator.names import timestamp

TRIDENT_DRIVER = TRIDENT_CSI_DRIVER
SHARE_TO = "trident.netapp.io/shareToNamespace"  # on a source PVC: namespaces (or "*") it is shared into
SHARE_FROM = "trident.netapp.io/shareFromPVC"  # on the subordinate PVC: "<namespace>/<pvc>"
TRIDENT_NAMESPACE = DEFAULT_TRIDENT_NAMESPACE
TRIDENT_VERSION = "25.02.1"  # before 26.06: TridentVolumes still hold SolidFire CHAP secrets in clear
KUBERNETES_VERSION = "v1.30.6"


def meta(
    name: str,
    uid: str,
    created: datetime,
    namespace: str | None = None,
    labels: dict | None = None,
    annotations: dict | None = None,
    owner: dict | None = None,
    finalizers: list | None = None,
    generate_name: str | None = None,
) -> dict:
    m = {"name": name}
    if generate_name:
        m["generateName"] = generate_name
    if namespace is not None:
        m["namespace"] = namespace
    m["uid"] = uid
    m["resourceVersion"] = "0"  # the store stamps the real one
    m["creationTimestamp"] = timestamp(created)
    if labels:
        m["labels"] = labels
    if annotations:
        m["annotations"] = annotations
    if owner:
        m["ownerReferences"] = [owner]
    if finalizers:
        m["finalizers"] = finalizers
    return m


def owner_ref(kind: str, name: str, uid: str, api_version: str = "apps/v1") -> dict:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def managed_field(manager: str, when: datetime, fields: dict, operation="Update", api_version="v1", sub=None):
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": timestamp(when),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if sub:
        entry["subresource"] = sub
    return entry


# ---------------------------------------------------------------- namespaces and nodes


def namespace(m: dict) -> dict:
    m.setdefault("labels", {})["kubernetes.io/metadata.name"] = m["name"]
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": m,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


_NODE_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def node_conditions(heartbeat: datetime, since: datetime) -> list[dict]:
    return [
        {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": timestamp(heartbeat),
            "lastTransitionTime": timestamp(since),
            "reason": reason,
            "message": message,
        }
        for kind, status, reason, message in _NODE_CONDITIONS
    ]


def node(
    m: dict, addresses: list[dict], pod_cidr: str, node_info: dict, since: datetime, control_plane: bool
):
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    if control_plane:
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    resources = {"cpu": "16", "memory": "65843180Ki", "pods": "110", "ephemeral-storage": "101430960Ki"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": m,
        "spec": spec,
        "status": {
            "addresses": addresses,
            "allocatable": {**resources, "cpu": "15800m", "memory": "63643180Ki"},
            "capacity": resources,
            "conditions": node_conditions(since, since),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": node_info,
        },
    }


def node_info(machine_id: str, boot_id: str, system_uuid: str) -> dict:
    """All ten fields the typed client insists on."""
    return {
        "architecture": "amd64",
        "bootID": boot_id,
        "containerRuntimeVersion": "containerd://1.7.22",
        "kernelVersion": "5.14.0-427.37.1.el9_4.x86_64",
        "kubeProxyVersion": KUBERNETES_VERSION,
        "kubeletVersion": KUBERNETES_VERSION,
        "machineID": machine_id,
        "operatingSystem": "linux",
        "osImage": "Red Hat Enterprise Linux 9.4 (Plow)",
        "systemUUID": system_uuid,
    }


# ---------------------------------------------------------------- storage


def storage_class(m: dict, parameters: dict, reclaim="Delete", expansion=True) -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": m,
        "provisioner": TRIDENT_DRIVER,
        "parameters": parameters,
        "reclaimPolicy": reclaim,
        "allowVolumeExpansion": expansion,
        "volumeBindingMode": "Immediate",
    }


def pvc(m: dict, storage_class_name: str | None, size: str, access_mode: str, volume_name: str | None):
    spec = {
        "accessModes": [access_mode],
        "resources": {"requests": {"storage": size}},
        "storageClassName": storage_class_name,
        "volumeMode": "Filesystem",
    }
    if storage_class_name is None:  # static binding: "" disables dynamic provisioning
        spec["storageClassName"] = ""
    status = {"phase": "Pending"}
    if volume_name:
        spec["volumeName"] = volume_name
        status = {"phase": "Bound", "accessModes": [access_mode], "capacity": {"storage": size}}
    m.setdefault("finalizers", ["kubernetes.io/pvc-protection"])
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": m,
        "spec": spec,
        "status": status,
    }


def bound_pvc_annotations(provisioner: str | None) -> dict:
    annotations = {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}
    if provisioner:
        annotations["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
        annotations["volume.kubernetes.io/storage-provisioner"] = provisioner
    return annotations


def claim_ref(claim: dict) -> dict:
    cm = claim["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": cm["namespace"],
        "name": cm["name"],
        "uid": cm["uid"],
        "resourceVersion": cm["resourceVersion"],
    }


def pv(
    m: dict,
    source: dict,
    size: str,
    access_mode: str,
    claim: dict | None,
    storage_class_name: str,
    reclaim: str,
    phase: str,
    phase_since: datetime,
) -> dict:
    spec = {
        "accessModes": [access_mode],
        "capacity": {"storage": size},
        **source,
        "persistentVolumeReclaimPolicy": reclaim,
        "storageClassName": storage_class_name,
        "volumeMode": "Filesystem",
    }
    if claim is not None:
        spec["claimRef"] = claim
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": m,
        "spec": spec,
        "status": {"phase": phase, "lastPhaseTransitionTime": timestamp(phase_since)},
    }


def csi_source(
    pv_name: str,
    backend_uuid: str,
    internal_name: str,
    protocol: str,
    provisioner_identity: str,
    internal_id: str = "",
) -> dict:
    attributes = {
        "backendUUID": backend_uuid,
        "internalName": internal_name,
        "name": pv_name,
        "protocol": protocol,
        "storage.kubernetes.io/csiProvisionerIdentity": provisioner_identity,
    }
    if internal_id:
        attributes["internalID"] = internal_id
    source = {"driver": TRIDENT_DRIVER, "volumeHandle": pv_name, "volumeAttributes": attributes}
    if protocol == "block":
        source["fsType"] = "ext4"
    return {"csi": source}


# ---------------------------------------------------------------- Trident custom resources


def trident_object(kind: str, m: dict, body: dict) -> dict:
    return {"apiVersion": "trident.netapp.io/v1", "kind": kind, "metadata": m, **body}


def trident_volume(m: dict, backend_uuid: str, pool: str, config: dict, state="online", orphaned=False):
    return trident_object(
        "TridentVolume",
        m,
        {"backendUUID": backend_uuid, "pool": pool, "orphaned": orphaned, "state": state, "config": config},
    )


def volume_config(
    name: str,
    internal_name: str,
    size_bytes: int,
    protocol: str,
    storage_class_name: str,
    access_mode: str,
    namespace: str,
    request_name: str,
    access: dict,
    export_policy="",
    internal_id="",
    share_source="",
) -> dict:
    return {
        "version": "1",
        "name": name,
        "internalName": internal_name,
        "size": str(size_bytes),
        "protocol": protocol,
        "spaceReserve": "none",
        "securityStyle": "unix" if protocol == "file" else "",
        "snapshotPolicy": "none",
        "snapshotReserve": "",
        "snapshotDirectory": "false" if protocol == "file" else "",
        "exportPolicy": export_policy,
        "unixPermissions": "---rwxrwxrwx" if protocol == "file" else "",
        "storageClass": storage_class_name,
        "accessMode": access_mode,
        "volumeMode": "Filesystem",
        "accessInformation": access,
        "blockSize": "",
        "fileSystem": "ext4" if protocol == "block" else "",
        "encryption": "",
        "cloneSourceVolume": "",
        "cloneSourceVolumeInternal": "",
        "cloneSourceSnapshot": "",
        "splitOnClone": "",
        "qosPolicy": "",
        "adaptiveQosPolicy": "",
        "internalID": internal_id,
        "shareSourceVolume": share_source,
        "namespace": namespace,
        "requestName": request_name,
        "importOriginalName": "",
        "importBackendUUID": "",
        "importNotManaged": False,
        "mountOptions": "",
    }


# ---------------------------------------------------------------- pods

_DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]
_EVERYWHERE_TOLERATIONS = [{"operator": "Exists"}]  # DaemonSets of node agents tolerate every taint
_TOKEN_PROJECTION = {
    "defaultMode": 420,
    "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "downwardAPI": {
                "items": [
                    {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                ]
            }
        },
    ],
}
_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


def container(name: str, image: str, mounts=(), security: dict | None = None, ports=(), command=None) -> dict:
    c = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
    if command:
        c["command"] = command
    if ports:
        c["ports"] = list(ports)
    c["resources"] = _RESOURCES
    if security is not None:
        c["securityContext"] = security
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    c["volumeMounts"] = list(mounts)
    return c


def mount(name: str, path: str, read_only=False, propagation: str | None = None) -> dict:
    m = {"name": name, "mountPath": path}
    if read_only:
        m["readOnly"] = True
    if propagation:
        m["mountPropagation"] = propagation
    return m


def token_volume(suffix: str) -> tuple[dict, dict]:
    """The projected service-account token volume every pod gets, and its mount."""
    name = f"kube-api-access-{suffix}"
    return {"name": name, "projected": _TOKEN_PROJECTION}, mount(
        name, "/var/run/secrets/kubernetes.io/serviceaccount", read_only=True
    )


def pod_spec(
    containers: list,
    volumes: list,
    node_name: str,
    service_account: str,
    node_agent=False,
    init_containers=(),
    security: dict | None = None,
    **host,
) -> dict:
    spec = {"containers": containers}
    if init_containers:
        spec["initContainers"] = list(init_containers)
    spec.update(
        dnsPolicy="ClusterFirstWithHostNet" if host.get("hostNetwork") else "ClusterFirst",
        enableServiceLinks=True,
        nodeName=node_name,
        preemptionPolicy="PreemptLowerPriority",
        priority=2000001000 if node_agent else 0,
        restartPolicy=host.pop("restartPolicy", "Always"),
        schedulerName="default-scheduler",
        securityContext=security or {},
        serviceAccount=service_account,
        serviceAccountName=service_account,
        terminationGracePeriodSeconds=30,
        tolerations=_EVERYWHERE_TOLERATIONS if node_agent else _DEFAULT_TOLERATIONS,
        volumes=volumes,
    )
    if node_agent:
        spec["priorityClassName"] = "system-node-critical"
    spec.update(host)  # hostNetwork / hostPID / hostIPC exactly where a case sets them
    return spec


@lru_cache(maxsize=65536)  # pods of one workload share these (they are never modified in place)
def pod_conditions(scheduled: datetime, ready: datetime, phase: str) -> list[dict]:
    done = phase == "Succeeded"
    ready_status = "False" if done else "True"

    def condition(kind, status, when, reason=None):
        c = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": timestamp(when)}
        if reason:
            c["reason"] = reason
        return c

    return [
        condition("PodReadyToStartContainers", ready_status, ready),
        condition("Initialized", "True", scheduled, "PodCompleted" if done else None),
        condition("Ready", ready_status, ready, "PodCompleted" if done else None),
        condition("ContainersReady", ready_status, ready, "PodCompleted" if done else None),
        condition("PodScheduled", "True", scheduled),
    ]


def container_status(c: dict, container_id: str, started: datetime, phase: str, restarts=0, init=False):
    if init or phase == "Succeeded":
        state = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "containerID": container_id,
                "startedAt": timestamp(started),
                "finishedAt": timestamp(started),
            }
        }
    else:
        state = {"running": {"startedAt": timestamp(started)}}
    return {
        "name": c["name"],
        "image": c["image"],
        "imageID": c["image"].split(":")[0] + "@sha256:" + container_id[-64:],
        "containerID": container_id,
        "ready": not init and phase == "Running",
        "restartCount": restarts,
        "started": not init and phase == "Running",
        "state": state,
        "lastState": {},
    }


def pod(m: dict, spec: dict, status: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec, "status": status}


# ---------------------------------------------------------------- RBAC and network policy

RBAC = "rbac.authorization.k8s.io/v1"


def rule(groups, resources, verbs, names=None) -> dict:
    r = {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
    if names:
        r["resourceNames"] = list(names)
    return r


def cluster_role(m: dict, rules: list, aggregation_selectors: list | None = None) -> dict:
    obj = {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": m, "rules": rules}
    if aggregation_selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": s} for s in aggregation_selectors]}
    return obj


def role(m: dict, rules: list) -> dict:
    return {"apiVersion": RBAC, "kind": "Role", "metadata": m, "rules": rules}


def subject(kind: str, name: str, namespace: str | None = None) -> dict:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def binding(kind: str, m: dict, role_kind: str, role_name: str, subjects: list) -> dict:
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": m,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def network_policy(m: dict, pod_selector: dict, policy_types: list, egress=None, ingress=None) -> dict:
    spec = {"podSelector": pod_selector, "policyTypes": policy_types}
    if egress is not None:
        spec["egress"] = egress
    if ingress is not None:
        spec["ingress"] = ingress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": m, "spec": spec}


def secret(m: dict, string_data: dict) -> dict:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in string_data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": m, "type": "Opaque", "data": data}
