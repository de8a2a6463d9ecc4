"""`iscsi-without-chap`: an ONTAP iSCSI backend (ontap-san, ontap-san-economy) with `useCHAP` off.

Read from the TridentBackend's config (`useCHAP`, the only CHAP setting kept).  Judgements:
`sanType` nvme or fcp backends do not speak iSCSI and never fire; a missing `useCHAP` is Trident's
default, off; solidfire-san is not this rule (Trident's CSI driver always uses CHAP there).  A
backend with no PV yet still fires, attributed to the cluster.  One finding per backend.
"""

from exposure.analysis.array_exposure import (
    backend_paths,
    backends,
    config_flag,
    objects_of,
    uses_of_backend,
)
from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.rules.base import Hit, Rule
from inventory.constants import ONTAP_SAN_DRIVERS
from inventory.refs import OUTSIDE

SLUG = "iscsi-without-chap"


def evaluate(ctx):
    for name, backend in sorted(backends(ctx).items()):
        config = backend.info.config
        san_type = str(config.get("sanType") or "iscsi").strip().lower()
        if backend.info.driver not in ONTAP_SAN_DRIVERS or san_type != "iscsi":
            continue
        if config_flag(config, "useCHAP") is True:
            continue
        uses = uses_of_backend(ctx, name)
        who = "any host on the storage network presenting a node's IQN"
        setting = f"useCHAP {config.get('useCHAP', 'unset (false)')}"
        paths = backend_paths(uses, backend, who, setting, "write", SLUG, RULE.severity) or [
            ExposurePath(
                Actor("outside-host", who, OUTSIDE),
                [Hop(backend.config_ref or backend.ref, setting)],
                [backend.ref],
                "",
                "write",
                SLUG,
                RULE.severity,
            )
        ]
        yield Hit(
            identity=(backend.ref,),
            severity=RULE.severity,
            title=f"Trident backend {name} ({backend.info.driver}) maps LUNs over iSCSI without CHAP",
            namespaces=sorted({u.namespace for u in uses if u.namespace}),
            evidence={"backend": name, "driver": backend.info.driver, "useCHAP": False},
            paths=paths,
            objects=objects_of(ctx, uses, *backend.refs),
            detail=f"{len(uses)} PV(s): an IQN is a name any host can claim; an igroup alone proves nothing",
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline="Backends accept only the cluster's worker nodes, and make them prove who they are.",
    remediation=(
        "Set useCHAP: true in the ontap-san backend (with chapUsername, chapInitiatorSecret, "
        "chapTargetUsername and chapTargetInitiatorSecret from a Secret): Trident then sets "
        "bidirectional CHAP as the SVM's default initiator security. NetApp recommends bidirectional CHAP."
    ),
    evidence_key="the backend's driver and useCHAP",
    reads=("TridentBackend", "PersistentVolume", "TridentVolume"),
    evaluate=evaluate,
    reads_arrays=True,  # whose volumes the backend holds: the access records
    attributed_to="each namespace on that backend",
)
