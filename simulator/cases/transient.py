"""Cases that exist for part of the simulated month only (the timeline starts and ends them)."""

from simulator.cases.manifest import Cases, ref
from simulator.platform import PLATFORM_ADMINS
from simulator.shapes import container, mount, subject

AUDITORS_NARROW, AUDITORS_WIDE = "auditors-admins-only", "auditors-everyone"


def transient_privileged_pod(sim, cases: Cases, start: bool) -> None:
    """Day 3 to day 5: someone debugs a node from globex-dev with a privileged pod mounting `/`."""
    name = "node-debugger"
    if not start:
        sim.remove("Pod", "globex-dev", name)
        cases.drop_transient("privileged-pod-priv")
        cases.drop_transient("privileged-pod-hostpath")
        return
    node = sim.workers()[0].name
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
