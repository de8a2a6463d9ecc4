"""Small builders the cases share."""

from simulator import shapes
from simulator.shapes import container, mount, owner_ref
from simulator.workloads import RESTRICTED_CONTAINER

NAS_LIF = "192.0.2.31"  # the nas-legacy backend's data LIF


def case_created(sim):
    return sim.aged(120, 36)


def claim_volume(name: str, claim: str) -> dict:
    return {"name": name, "persistentVolumeClaim": {"claimName": claim}}


def static_nfs_pv(sim, name, path, claim=None, phase="Bound", claim_ref=None, created=None) -> dict:
    created = created or case_created(sim)
    return sim.put(
        shapes.pv(
            sim.meta(
                name,
                created=created,
                finalizers=["kubernetes.io/pv-protection"],
                annotations={"pv.kubernetes.io/bound-by-controller": "yes"} if claim else None,
            ),
            {"nfs": {"server": NAS_LIF, "path": path}},
            "100Gi",
            "ReadWriteMany",
            claim_ref or (shapes.claim_ref(claim) if claim else None),
            "",
            "Retain",
            phase,
            created,
        )
    )


def static_claim(sim, namespace, name, volume_name) -> dict:
    m = sim.meta(name, namespace, case_created(sim), annotations=shapes.bound_pvc_annotations(None))
    return sim.put(shapes.pvc(m, None, "100Gi", "ReadWriteMany", volume_name))


def app_pod(sim, namespace, name, node, volumes=(), security=None, pod_security=None, image=None, **host):
    """A single-replica StatefulSet's pod: stable name, realistic owner."""
    workload = name.rsplit("-", 1)[0]
    mounts = [mount(v["name"], f"/data/{v['name']}") for v in volumes]
    return sim.add_pod(
        namespace,
        name,
        [
            container(
                "main",
                image or f"registry.example.com/{namespace}/{workload}:1.4",
                mounts,
                RESTRICTED_CONTAINER if security is None else security,
            )
        ],
        node,
        case_created(sim),
        owner=owner_ref("StatefulSet", workload, sim.ids.uid()),
        labels={"app.kubernetes.io/name": workload, "statefulset.kubernetes.io/pod-name": name},
        volumes=list(volumes),
        security=pod_security,
        **host,
    )
