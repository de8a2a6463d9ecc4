"""`showmount-enabled`: the SVM serving a PV's volume answers `showmount -e` to any host.

Read from the SVM's NFS service record (`showmount_enabled`, REST `/protocols/nfs/services`).
Judgements: an NFS service the array reports disabled serves nothing, so it does not fire; a record
without the field is not guessed at (older ONTAP releases: the setting is unknown, so quiet).  One
finding per SVM, attributed to every namespace with a volume on it.
"""

from exposure.analysis.array_exposure import objects_of, volume_uses
from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.rules.base import Hit, Rule
from inventory.refs import OUTSIDE, array_ref

SLUG = "showmount-enabled"
NAS_OBJECTS = ("ontap.Volume", "ontap.Qtree")


def evaluate(ctx):
    by_svm: dict[tuple[str, str], list] = {}
    for use in volume_uses(ctx):
        obj, array = use.record.get("object") or {}, use.record.get("array") or ""
        if array and obj.get("kind") in NAS_OBJECTS and isinstance(obj.get("name"), str):
            by_svm.setdefault((array, obj["name"].split("/", 1)[0]), []).append(use)
    for (array, svm), uses in sorted(by_svm.items()):
        service_ref = array_ref(array, "ontap.NfsService", svm)
        service = ctx.lookup(service_ref) or {}
        if service.get("showmount_enabled") is not True or service.get("enabled") is False:
            continue
        svm_ref = array_ref(array, "ontap.Svm", svm)
        extra = [service_ref] + ([svm_ref] if ctx.lookup(svm_ref) is not None else [])
        yield Hit(
            identity=(service_ref,),
            severity=RULE.severity,
            title=f"SVM {svm} on {array} lists its exports to any host (showmount enabled)",
            namespaces=sorted({use.namespace for use in uses if use.namespace}),
            evidence={"array": array, "svm": svm, "showmount_enabled": True},
            paths=[
                ExposurePath(
                    actor=Actor("outside-host", f"any host that reaches {svm}'s data LIFs", OUTSIDE),
                    hops=[Hop(service_ref, "showmount_enabled true")],
                    data=list(use.data),
                    namespace=use.namespace,
                    access="metadata",
                    rule=SLUG,
                    severity=RULE.severity,
                )
                for use in uses
            ],
            objects=objects_of(ctx, uses, *extra),
            arrays={array},
            detail=f"{len(uses)} PV(s) on {svm}: every export path and the clients its rules name are listed",
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline="Backends accept only the cluster's worker nodes, and tell other hosts nothing.",
    remediation=(
        "Disable showmount for the application SVM: `vserver nfs modify -vserver <svm_name> "
        "-showmount disabled` (the seed: disable showmount)."
    ),
    evidence_key="the SVM's showmount setting",
    reads=("PersistentVolume", "TridentBackend", "TridentVolume"),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="every namespace with volumes on that SVM",
)
