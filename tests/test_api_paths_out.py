"""A finding's paths in the API (api/serializers.py `PathsOut`): picked, not serialised field by
field, yet exactly what `PathOut(many=True)` writes, and what the schema documents."""

import pytest

from api.serializers import FindingOut, PathOut, PathsOut
from exposure.analysis.paths import Actor, ExposurePath, Hop


def _paths() -> list[dict]:
    outside = ExposurePath(
        actor=Actor("outside-host", "0.0.0.0/0", "OUTSIDE"),
        hops=[Hop("array:ontap-a/ontap.ExportPolicy/svm_k8s/default", "rule 1 clients 0.0.0.0/0")],
        data=["PersistentVolumeClaim/acme-web/data", "PersistentVolume/pvc-1"],
        namespace="acme-web",
        access="root",
        rule="export-policy-open",
        severity="critical",
    )
    platform = ExposurePath(
        actor=Actor("pod", "DaemonSet kube-system/<script>alert(1)</script>", "kube-system", platform=True),
        hops=[Hop("Pod/kube-system/agent", "spec.volumes[0].hostPath /var/lib/kubelet"), Hop("Node/n1", "")],
        data=[],
        namespace="",
        access="read",
        rule="hostpath-kubelet",
        severity="info",
        mitigations=["readOnly: true"],
        inside_tenant=True,
        platform=True,
    )
    return [outside.as_dict(), platform.as_dict()]


def test_the_paths_are_written_as_the_serializer_writes_them():
    paths = _paths()
    assert PathsOut().to_representation(paths) == PathOut(paths, many=True).data
    assert [list(path) for path in PathsOut().to_representation(paths)] == [list(PathOut().fields)] * 2


def test_keys_the_schema_does_not_name_are_left_out_and_a_missing_one_fails_as_in_the_serializer():
    (path, _) = _paths()
    extra = {**path, "key": "d1#1", "actor": {**path["actor"], "note": "x"}}
    extra["hops"] = [{**hop, "extra": 1} for hop in path["hops"]]
    assert PathsOut().to_representation([extra]) == PathOut([path], many=True).data
    missing = {k: v for k, v in path.items() if k != "access"}
    with pytest.raises(KeyError):
        PathsOut().to_representation([missing])
    with pytest.raises(KeyError):
        PathOut([missing], many=True).data  # noqa: B018


def test_a_findings_paths_field_is_the_picking_one():
    assert isinstance(FindingOut().fields["paths"], PathsOut)
