"""`auto-export-cidrs-open`: a Trident NAS backend manages export policies with `autoExportCIDRs`
unset or `0.0.0.0/0` / `::/0`, so every address of every node (bridges and pod-network gateways
included) is added to the policies.

Read from the TridentBackend's config (Trident's defaults applied: unset there means Trident's
default, which is everything).  Judgements: a list holding a catch-all beside narrower CIDRs is
open (FilterIPs keeps an address in any listed CIDR); `::/0` alone is open too, it admits every
IPv6 node address.  A backend with no PV yet still fires, attributed to the cluster: its next
volume gets such a policy.  One finding per backend.
"""

from ipaddress import ip_network

from exposure.analysis.array_exposure import (
    backend_paths,
    backends,
    config_flag,
    objects_of,
    uses_of_backend,
)
from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.rules.base import Hit, Rule
from inventory.constants import NAS_DRIVERS
from inventory.refs import OUTSIDE

SLUG = "auto-export-cidrs-open"


def _catch_all(cidr: object) -> bool:
    try:
        return isinstance(cidr, str) and ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def evaluate(ctx):
    for name, backend in sorted(backends(ctx).items()):
        config = backend.info.config
        if backend.info.driver not in NAS_DRIVERS or config_flag(config, "autoExportPolicy") is not True:
            continue
        cidrs = config.get("autoExportCIDRs")
        cidrs = [c for c in cidrs if isinstance(c, str)] if isinstance(cidrs, list) else []
        open_cidrs = [c for c in cidrs if _catch_all(c)]
        if cidrs and not open_cidrs:
            continue
        setting = f"autoExportCIDRs {', '.join(open_cidrs)}" if cidrs else "autoExportCIDRs unset"
        uses = uses_of_backend(ctx, name)
        who = "any host holding a node's non-node-network address (a bridge, a pod-network gateway)"
        paths = backend_paths(uses, backend, who, setting, "root", SLUG, RULE.severity)
        if not paths:
            paths = [
                ExposurePath(
                    Actor("outside-host", who, OUTSIDE),
                    [Hop(backend.config_ref or backend.ref, setting)],
                    [backend.ref],
                    "",
                    "root",
                    SLUG,
                    RULE.severity,
                )
            ]
        yield Hit(
            identity=(backend.ref,),
            severity=RULE.severity,
            title=f"Trident backend {name} exports volumes to every node address ({setting})",
            namespaces=sorted({u.namespace for u in uses if u.namespace}),
            evidence={"backend": name, "autoExportPolicy": True, "autoExportCIDRs": cidrs},
            paths=paths,
            objects=objects_of(ctx, uses, *backend.refs),
            detail=f"{len(uses)} PV(s) on {backend.info.driver} backend {name}; Trident's rules grant each "
            "listed address read-write and root",
        )


RULE = Rule(
    slug=SLUG,
    severity="low",
    guideline="Backends accept only the cluster's worker nodes, by their node-network addresses only.",
    remediation=(
        'Set autoExportCIDRs in the backend config to the node network (e.g. ["10.20.0.0/16"]) so '
        "that only node addresses on the storage network are added to the export policies."
    ),
    evidence_key="the backend's autoExportPolicy and autoExportCIDRs",
    reads=("TridentBackend", "PersistentVolume", "TridentVolume"),
    evaluate=evaluate,
    reads_arrays=True,  # whose volumes the backend holds: the access records
    attributed_to="each namespace on that backend",
)
