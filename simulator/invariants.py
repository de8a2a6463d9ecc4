"""Consistency a real cluster with Trident keeps, checked over the simulator's objects.

`check_invariants(sim)` returns one line per violation (empty when the world is sound).
References the case manifest marks as deliberately dangling are not violations.
"""

from inventory.kinds import KIND_NAMES
from simulator.shapes import SHARE_TO, TRIDENT_DRIVER, TRIDENT_NAMESPACE


def _key(obj: dict) -> tuple[str, str]:
    m = obj["metadata"]
    return m.get("namespace", ""), m["name"]


def check_invariants(sim) -> list[str]:
    with sim.lock:
        objects = {kind: {_key(o): o for o in sim.objects(kind)} for kind in KIND_NAMES}
        manifest = sim.case_manifest()
        secrets = sim.secrets()
    problems: list[str] = []
    problems += _identity(objects, secrets)
    problems += _claims_and_volumes(objects)
    problems += _trident(objects)
    problems += _pods(objects)
    problems += _rbac(objects, manifest)
    problems += _manifest(sim, manifest)
    return problems


def _identity(objects, secrets) -> list[str]:
    problems, seen = [], {}
    namespaces = {name for _, name in objects["Namespace"]}
    for kind, by_key in objects.items():
        for (namespace, name), obj in by_key.items():
            m = obj["metadata"]
            if m["uid"] in seen:
                problems.append(f"{kind} {namespace}/{name}: uid {m['uid']} also used by {seen[m['uid']]}")
            seen[m["uid"]] = f"{kind} {namespace}/{name}"
            if not m["resourceVersion"].isdigit() or m["resourceVersion"] == "0":
                problems.append(f"{kind} {namespace}/{name}: resourceVersion {m['resourceVersion']!r}")
            if namespace and namespace not in namespaces:
                problems.append(f"{kind} {namespace}/{name}: namespace does not exist")
    for obj in secrets:
        if obj["metadata"]["uid"] in seen:
            problems.append(
                f"Secret {obj['metadata']['name']}: uid shared with {seen[obj['metadata']['uid']]}"
            )
    return problems


def _claims_and_volumes(objects) -> list[str]:
    problems = []
    claims, volumes = objects["PersistentVolumeClaim"], objects["PersistentVolume"]
    classes = {name for _, name in objects["StorageClass"]}
    for (namespace, name), claim in claims.items():
        where = f"PVC {namespace}/{name}"
        if claim["spec"]["storageClassName"] and claim["spec"]["storageClassName"] not in classes:
            problems.append(f"{where}: StorageClass {claim['spec']['storageClassName']} does not exist")
        if claim["status"]["phase"] != "Bound":
            continue
        volume = volumes.get(("", claim["spec"].get("volumeName", "")))
        if volume is None:
            problems.append(f"{where}: bound to missing PV {claim['spec'].get('volumeName')}")
            continue
        ref = volume["spec"].get("claimRef", {})
        if (ref.get("namespace"), ref.get("name"), ref.get("uid")) != (
            namespace,
            name,
            claim["metadata"]["uid"],
        ):
            problems.append(f"{where}: PV {volume['metadata']['name']} claimRef points elsewhere: {ref}")
    for (_, name), volume in volumes.items():
        spec, phase = volume["spec"], volume["status"]["phase"]
        ref = spec.get("claimRef")
        if phase == "Bound":
            claim = ref and claims.get((ref["namespace"], ref["name"]))
            if not claim or claim["spec"].get("volumeName") != name:
                problems.append(f"PV {name}: Bound but its claim {ref} does not point back")
        if phase == "Released" and ref and (ref["namespace"], ref["name"]) in claims:
            problems.append(f"PV {name}: Released while its claim still exists")
        if phase == "Available" and ref and ref.get("uid"):
            problems.append(f"PV {name}: Available with a claimRef uid (it would be Bound or Released)")
        annotations = volume["metadata"].get("annotations", {})
        if annotations.get("pv.kubernetes.io/provisioned-by") == TRIDENT_DRIVER and ref and ref.get("uid"):
            if name != f"pvc-{ref['uid']}":
                problems.append(f"PV {name}: provisioned for claim uid {ref['uid']} but not named after it")
    return problems


def _trident(objects) -> list[str]:
    problems = []
    tvols = objects["TridentVolume"]
    backend_uuids = {b["backendUUID"] for b in objects["TridentBackend"].values()}
    config_uids = {c["metadata"]["uid"]: c for c in objects["TridentBackendConfig"].values()}
    for backend in objects["TridentBackend"].values():
        config = config_uids.get(backend["configRef"])
        if config is None or config["status"]["backendInfo"]["backendUUID"] != backend["backendUUID"]:
            problems.append(
                f"TridentBackend {backend['backendName']}: configRef/backendUUID do not match a config"
            )
    handles = set()
    for (_, name), volume in objects["PersistentVolume"].items():
        csi = volume["spec"].get("csi")
        if not csi or csi["driver"] != TRIDENT_DRIVER:
            continue
        attributes, handle = csi["volumeAttributes"], csi["volumeHandle"]
        handles.add(handle)
        tvol = tvols.get((TRIDENT_NAMESPACE, handle))
        if tvol is None:
            problems.append(f"PV {name}: no TridentVolume {handle}")
        elif (tvol["backendUUID"], tvol["config"]["internalName"]) != (
            attributes["backendUUID"],
            attributes["internalName"],
        ):
            problems.append(f"PV {name}: backendUUID/internalName differ from TridentVolume {handle}")
    for (_, name), tvol in tvols.items():
        if tvol["backendUUID"] not in backend_uuids:
            problems.append(f"TridentVolume {name}: backend {tvol['backendUUID']} does not exist")
        if tvol["config"]["name"] != name or name not in handles:
            problems.append(f"TridentVolume {name}: no PV with that volume handle")
        source = tvol["config"]["shareSourceVolume"]
        if source and (TRIDENT_NAMESPACE, source) not in tvols:
            problems.append(f"TridentVolume {name}: share source {source} does not exist")
    nodes = {name for _, name in objects["Node"]}
    trident_nodes = {name for _, name in objects["TridentNode"]}
    if nodes != trident_nodes:
        problems.append(f"Nodes without TridentNode or vice versa: {sorted(nodes ^ trident_nodes)}")
    for (_, name), publication in objects["TridentVolumePublication"].items():
        if publication["nodeID"] not in nodes:
            problems.append(f"TridentVolumePublication {name}: node {publication['nodeID']} does not exist")
        if (TRIDENT_NAMESPACE, publication["volumeID"]) not in tvols:
            problems.append(
                f"TridentVolumePublication {name}: volume {publication['volumeID']} does not exist"
            )
        if name != f"{publication['volumeID']}.{publication['nodeID']}":
            problems.append(f"TridentVolumePublication {name}: not named <volume>.<node>")
    for (namespace, name), reference in objects["TridentVolumeReference"].items():
        spec = reference["spec"]
        source = objects["PersistentVolumeClaim"].get((spec["pvcNamespace"], spec["pvcName"]))
        targets = (source or {}).get("metadata", {}).get("annotations", {}).get(SHARE_TO, "").split(",")
        if source is None or not ({"*", namespace} & set(targets)):
            problems.append(
                f"TridentVolumeReference {namespace}/{name}: source PVC does not share into {namespace}"
            )
    classes = {name for _, name in objects["StorageClass"]}
    if classes != {name for _, name in objects["TridentStorageClass"]}:
        problems.append("StorageClasses and TridentStorageClasses differ")
    return problems


def _pods(objects) -> list[str]:
    problems = []
    nodes = {name for _, name in objects["Node"]}
    claims, volumes, tvols = (
        objects["PersistentVolumeClaim"],
        objects["PersistentVolume"],
        objects["TridentVolume"],
    )
    published = {(p["volumeID"], p["nodeID"]) for p in objects["TridentVolumePublication"].values()}
    needed = set()
    for (namespace, name), pod in objects["Pod"].items():
        node = pod["spec"]["nodeName"]
        if node not in nodes:
            problems.append(f"Pod {namespace}/{name}: node {node} does not exist")
        for volume in pod["spec"]["volumes"]:
            claim_name = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim_name is None:
                continue
            claim = claims.get((namespace, claim_name))
            if claim is None:
                problems.append(f"Pod {namespace}/{name}: PVC {claim_name} does not exist")
                continue
            bound = volumes.get(("", claim["spec"].get("volumeName", "")))
            handle = bound and bound["spec"].get("csi", {}).get("volumeHandle")
            if pod["status"]["phase"] == "Running" and handle and (TRIDENT_NAMESPACE, handle) in tvols:
                needed.add((handle, node))
    for volume, node in needed - published:
        problems.append(f"volume {volume} is mounted by a running pod on {node} but has no publication")
    for volume, node in published - needed:
        problems.append(f"publication {volume}.{node} has no running pod using it")
    return problems


def _rbac(objects, manifest) -> list[str]:
    problems = []
    dangling = {r for e in manifest.values() for es in e.values() for x in es for r in x.get("dangling", ())}
    cluster_roles = {name for _, name in objects["ClusterRole"]}
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for (namespace, name), binding in objects[kind].items():
            role_ref = binding["roleRef"]
            if role_ref["kind"] == "ClusterRole":
                exists, ref = role_ref["name"] in cluster_roles, f"ClusterRole/{role_ref['name']}"
            else:
                exists, ref = (
                    (namespace, role_ref["name"]) in objects["Role"],
                    f"Role/{namespace}/{role_ref['name']}",
                )
            if not exists and ref not in dangling:
                problems.append(f"{kind} {namespace}/{name}: roleRef {ref} does not exist")
    return problems


def _manifest(sim, manifest) -> list[str]:
    problems = []
    for slug, outcomes in manifest.items():
        for outcome, entries in outcomes.items():
            for entry in entries:
                for ref in entry["objects"]:
                    if sim.get(ref) is None:
                        problems.append(f"case manifest {slug}/{outcome}: {ref} does not exist")
                for ref in entry.get("dangling", ()):
                    if sim.get(ref) is not None:
                        problems.append(f"case manifest {slug}/{outcome}: {ref} is said to dangle but exists")
    return problems
