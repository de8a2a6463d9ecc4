"""Cases that exist for part of the simulated month only (the timeline starts and ends them)."""

from simulator import shapes
from simulator.cases.manifest import Cases, ref
from simulator.platform import PLATFORM_ADMINS
from simulator.shapes import container, mount, subject

AUDITORS_NARROW, AUDITORS_WIDE = "auditors-admins-only", "auditors-everyone"
# Rules whose every firing case is transient: they fire only part of the month (all on day 21).
STORY_TRANSIENT_RULES = frozenset({"pv-writable-by-non-admins"})
# The storage automation's grants (day 19 to day 23): binding, ClusterRole, subject, why.
PV_WRITERS = (
    (
        "ci-pv-provisioner",
        "pv-provisioner",
        subject("ServiceAccount", "deployer", "acme-web"),
        "acme-web's deployer may create PVs",
    ),
    (
        "storage-team-backends",
        "trident-backend-editor",
        subject("Group", "storage-team"),
        "storage-team may write trident.netapp.io",
    ),
)


def transient_privileged_pod(sim, cases: Cases, start: bool) -> None:
    """Day 3 to day 5: someone debugs a node from globex-dev with a privileged pod mounting `/`: not
    the lab node, but one of the well-run namespaces' workers, whose volumes are exposed meanwhile."""
    name = "node-debugger"
    if not start:
        sim.remove("Pod", "globex-dev", name)
        cases.drop_transient("privileged-pod-priv")
        cases.drop_transient("privileged-pod-hostpath")
        return
    node = sim.workers_for("acme-web")[-1].name
    debugger = sim.add_pod(
        "globex-dev",
        name,
        [
            container(
                "shell",
                "docker.io/library/ubuntu:24.04",
                [mount("host", "/host")],
                {"privileged": True},
                command=["sleep", "infinity"],
            )
        ],
        node,
        sim.clock,
        volumes=[{"name": "host", "hostPath": {"path": "/", "type": ""}}],
        hostPID=True,
    )
    cases.add_transient(
        "privileged-pod-priv",
        "privileged-container",
        "fires",
        "globex-dev",
        [ref(debugger)],
        "a privileged debug pod that lives for two days",
    )
    cases.add_transient(
        "privileged-pod-hostpath",
        "host-path-volume",
        "fires",
        "globex-dev",
        [ref(debugger)],
        "hostPath / (critical), for two days",
    )


def widen_trident_readers(sim, cases: Cases, widen: bool) -> None:
    """Day 12 to day 15: the auditors' binding is opened to every authenticated user, then narrowed."""
    binding = sim.find("RoleBinding", "trident", "trident-volume-auditors")
    subjects = [subject("Group", PLATFORM_ADMINS)] + (
        [subject("Group", "system:authenticated")] if widen else []
    )
    sim.change(binding, lambda o: o.update(subjects=subjects))
    objects = ["ClusterRole/trident-volume-reader", ref(binding)]
    if widen:
        cases.drop_transient(AUDITORS_NARROW)
        cases.add_transient(
            AUDITORS_WIDE,
            "chap-secrets-readable",
            "fires",
            "trident",
            objects,
            "binding widened to system:authenticated: everyone reads CHAP secrets",
        )
    else:
        cases.drop_transient(AUDITORS_WIDE)
        cases.add_transient(
            AUDITORS_NARROW,
            "chap-secrets-readable",
            "near_misses",
            "trident",
            objects,
            "only cluster administrators",
        )


def storage_automation_grants(sim, cases: Cases, grant: bool) -> None:
    """Day 19 to day 23: a storage automation change binds PV writes and Trident's backends to
    non-administrators cluster-wide (the cluster's RBAC mistake), then is reverted."""
    for binding, role, who, why in PV_WRITERS:
        key = f"pv-writers/{binding}"
        if not grant:
            sim.remove("ClusterRoleBinding", "", binding)
            cases.drop_transient(key)
            continue
        made = sim.put(shapes.binding("ClusterRoleBinding", sim.meta(binding), "ClusterRole", role, [who]))
        objects = [f"ClusterRole/{role}", ref(made)]
        cases.add_transient(key, "pv-writable-by-non-admins", "fires", None, objects, why)


def flexgroup_export_widened(sim, cases: Cases, widen: bool) -> None:
    """Day 14 to day 17: 0.0.0.0/0 (rw, superuser any) added to the FlexGroup backend's export policy
    on the array, then removed (the array derives it from the clock: simulator/ontap_array.py);
    initech-billing's archive is on that backend."""
    key = "flexgroup-widened"
    if not widen:
        cases.drop_transient(key)
        return
    claim = sim.find("PersistentVolumeClaim", "initech-billing", "billing-archive")
    objects = [
        "TridentBackendConfig/trident/backend-nas-flexgroup",
        ref(claim),
        f"PersistentVolume/{claim['spec']['volumeName']}",
    ]
    why = "0.0.0.0/0 with rw and superuser any added to the FlexGroup backend's export policy (critical)"
    cases.add_transient(key, "export-allows-foreign-hosts", "fires", "initech-billing", objects, why)
