"""The offline importer's reader: golden dumps in real kubectl shapes, and every way a dump can be wrong."""

import gc
import json
import os
import signal
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from arrays.sources.backend_dump import read_backends
from inventory.kinds import BY_KIND, KIND_NAMES
from inventory.sources.dump import DumpError, read_dump

GOLDEN = Path(__file__).parent / "golden"
CLUSTER_A = GOLDEN / "cluster-a"
# The Kubernetes version whose schemas the golden core objects are written against.
GOLDEN_KUBERNETES_VERSION = "1.31.0"
SECRET_VALUE = "c3VwZXItc2VjcmV0LXZhbHVl"  # what a dumped Secret holds; must never come back


def write_dump(root: Path, files: dict[str, str | bytes]) -> Path:
    """A dump directory with the given files under kubernetes/; returns the dump directory."""
    for name, content in files.items():
        path = root / "kubernetes" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def as_json(obj) -> str:
    return json.dumps(obj, indent=4)


def as_yaml(*documents) -> str:
    return "---\n".join(yaml.safe_dump(d, sort_keys=True) for d in documents)


def namespace(name, **metadata):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, **metadata}}


def pod(ns, name, image="nginx:1.27", **metadata):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, **metadata},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }


def pv(name):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": {}}


def kubectl_list(*items):
    return {"apiVersion": "v1", "kind": "List", "items": list(items), "metadata": {"resourceVersion": ""}}


def secret(name, ns="team-a"):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns, "annotations": {"note": SECRET_VALUE}},
        "data": {"password": SECRET_VALUE},
        "type": "Opaque",
    }


# ---------------------------------------------------------------------------------------------- golden


def test_golden_dump_reads_every_kind_with_the_expected_counts():
    expected = json.loads((GOLDEN / "expected_counts.json").read_text())
    collection = read_dump(CLUSTER_A)

    assert set(expected) == set(KIND_NAMES)
    assert collection.unread == {}
    assert {kind: len(objects) for kind, objects in collection.objects.items()} == expected
    # workloads/db-0.yaml repeats a pod of storage/pv-pvc-pods.json without its managedFields.
    assert collection.warnings == ["merged 1 identical duplicate object(s)"]


def test_golden_objects_carry_kind_and_api_version_even_from_typed_lists():
    collection = read_dump(CLUSTER_A)
    for kind, objects in collection.objects.items():
        for obj in objects:
            assert (obj["kind"], obj["apiVersion"]) == (kind, BY_KIND[kind].api_version)
    # rbac/clusterrolebindings.json is the API's own typed list: its items name no kind.
    raw = json.loads((CLUSTER_A / "kubernetes/rbac/clusterrolebindings.json").read_text())
    assert raw["kind"] == "ClusterRoleBindingList" and "kind" not in raw["items"][0]


def test_golden_secret_values_are_planted_where_trident_stores_them():
    # So that a test proving they never reach the database cannot pass for want of them.
    planted = json.loads((GOLDEN / "secret_values.json").read_text())
    solidfire = [
        volume
        for volume in read_dump(CLUSTER_A).objects["TridentVolume"]
        if volume["config"]["accessInformation"].get("useCHAP")
    ]
    access = solidfire[0]["config"]["accessInformation"]

    assert set(planted["dropped_keys"]) <= set(access)
    assert set(planted["values"]) == {access["iscsiInitiatorSecret"], access["iscsiTargetSecret"]}


def test_golden_core_objects_are_valid_kubernetes():
    collection = read_dump(CLUSTER_A)
    validated = 0
    for kind, objects in collection.objects.items():
        if BY_KIND[kind].is_trident:
            continue  # Trident's CRDs publish no schema
        for obj in objects:
            kubernetes_validate.validate(obj, GOLDEN_KUBERNETES_VERSION, strict=True)
            validated += 1
    expected = json.loads((GOLDEN / "expected_counts.json").read_text())
    assert validated == sum(count for kind, count in expected.items() if not BY_KIND[kind].is_trident)


def test_validation_would_catch_a_field_kubernetes_does_not_have():
    claim = read_dump(CLUSTER_A).objects["PersistentVolumeClaim"][0]
    claim["status"]["lastPhaseTransitionTime"] = "2025-01-01T00:00:00Z"  # PVs have it, PVCs do not
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(claim, GOLDEN_KUBERNETES_VERSION, strict=True)


# ---------------------------------------------------------------------------------------------- formats


def test_json_yaml_and_multi_document_yaml(tmp_path):
    write_dump(
        tmp_path,
        {
            "ns.json": as_json(namespace("team-a")),
            "pods.yaml": "---\n"
            + as_yaml(pod("team-a", "one"), pod("team-a", "two"))
            + "---\n# only a comment\n",
            "more/pod.yml": as_yaml(pod("team-a", "three")),
        },
    )
    collection = read_dump(tmp_path)

    assert [n["metadata"]["name"] for n in collection.objects["Namespace"]] == ["team-a"]
    assert sorted(p["metadata"]["name"] for p in collection.objects["Pod"]) == ["one", "three", "two"]
    assert collection.warnings == []


def test_unquoted_yaml_timestamps_stay_strings_like_their_json_copy(tmp_path):
    stamped = namespace("team-a", creationTimestamp="2025-04-01T10:00:00Z")
    unquoted = (
        "apiVersion: v1\nkind: Namespace\n"
        "metadata:\n  name: team-a\n  creationTimestamp: 2025-04-01T10:00:00Z\n"  # as YAML allows, unquoted
    )
    write_dump(tmp_path, {"a.json": as_json(stamped), "b.yaml": unquoted})
    collection = read_dump(tmp_path)

    assert collection.objects["Namespace"] == [stamped]
    assert collection.warnings == ["merged 1 identical duplicate object(s)"]


def test_a_kind_list_may_mix_kinds(tmp_path):
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "team-a"},
        "spec": {"volumeName": "pv-1"},
    }
    write_dump(tmp_path, {"all.json": as_json(kubectl_list(pv("pv-1"), claim, pod("team-a", "web")))})
    collection = read_dump(tmp_path)

    assert {kind: len(objects) for kind, objects in collection.objects.items()} == {
        "PersistentVolume": 1,
        "PersistentVolumeClaim": 1,
        "Pod": 1,
    }


def test_typed_list_items_take_kind_and_api_version_from_the_list(tmp_path):
    item = {"metadata": {"name": "edit-binding", "namespace": "team-a"}, "roleRef": {}, "subjects": []}
    typed = {
        "kind": "RoleBindingList",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {},
        "items": [item],
    }
    write_dump(tmp_path, {"rb.json": as_json(typed)})

    (binding,) = read_dump(tmp_path).objects["RoleBinding"]
    assert binding["kind"] == "RoleBinding"
    assert binding["apiVersion"] == "rbac.authorization.k8s.io/v1"


def test_an_empty_typed_list_means_read_and_empty(tmp_path):
    write_dump(tmp_path, {"pods.json": '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}'})
    collection = read_dump(tmp_path)

    assert collection.objects["Pod"] == []
    assert "Pod" in collection.objects
    assert "Pod" not in collection.unread


def test_an_empty_generic_list_marks_no_kind_read(tmp_path):
    write_dump(tmp_path, {"netpol.json": as_json(kubectl_list())})
    collection = read_dump(tmp_path)

    assert collection.objects == {}
    assert collection.unread["NetworkPolicy"] == "not in dump"
    assert any("kubernetes/netpol.json" in w and "empty `kind: List`" in w for w in collection.warnings)


def test_kinds_the_dump_lacks_are_unread(tmp_path):
    write_dump(tmp_path, {"ns.yaml": as_yaml(namespace("team-a"))})
    collection = read_dump(tmp_path)

    assert set(collection.objects) == {"Namespace"}
    assert collection.unread == {kind: "not in dump" for kind in KIND_NAMES if kind != "Namespace"}


def test_kinds_the_product_does_not_read_are_ignored_with_one_warning(tmp_path):
    def configmap(name):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "team-a"}}

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "team-a"},
    }
    calico = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default.allow", "namespace": "team-a"},
        "spec": {},
    }
    write_dump(
        tmp_path, {"misc.yaml": as_yaml(kubectl_list(configmap("c1"), configmap("c2"), deployment, calico))}
    )
    collection = read_dump(tmp_path)

    assert collection.objects == {}
    assert (
        "NetworkPolicy" in collection.unread
    )  # Calico's kind of the same name is not the one the rules read
    assert collection.warnings == [
        "ignored 4 object(s) of kinds the product does not read: "
        "ConfigMap (2), Deployment (1), NetworkPolicy crd.projectcalico.org/v1 (1)"
    ]


def test_an_existing_backends_folder_and_other_files_are_left_alone(tmp_path):
    write_dump(tmp_path, {"ns.json": as_json(namespace("a")), "README.md": "taken on 2025-04-15"})
    (tmp_path / "backends").mkdir()
    (tmp_path / "backends" / "svm.json").write_text("not even JSON")
    collection = read_dump(tmp_path)

    assert len(collection.objects["Namespace"]) == 1
    assert collection.warnings == ["skipped files that are not .json, .yaml or .yml: kubernetes/README.md"]


# ---------------------------------------------------------------------------------------------- secrets


def test_secrets_are_dropped_in_every_shape_and_only_counted(tmp_path):
    secret_list = {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": [secret("b")]}
    write_dump(
        tmp_path,
        {
            "a-secret.yaml": as_yaml(secret("a")),
            "b-secrets.json": as_json(secret_list),
            "c-mixed.json": as_json(kubectl_list(secret("c"), pod("team-a", "web"))),
        },
    )
    collection = read_dump(tmp_path)

    assert SECRET_VALUE not in repr(collection)
    assert "Secret" not in collection.objects
    assert [p["metadata"]["name"] for p in collection.objects["Pod"]] == ["web"]
    assert collection.warnings == [
        "dropped 3 Secret object(s) unread (in kubernetes/a-secret.yaml, kubernetes/b-secrets.json, "
        "kubernetes/c-mixed.json): the product never keeps Secrets"
    ]


def test_a_broken_secret_file_is_refused_without_quoting_it(tmp_path):
    write_dump(
        tmp_path, {"secret.yaml": f"kind: Secret\ndata:\n  password: {SECRET_VALUE}\n  other: [unclosed\n"}
    )
    with pytest.raises(DumpError) as raised:
        read_dump(tmp_path)
    assert raised.value.path == "kubernetes/secret.yaml"
    assert SECRET_VALUE not in str(raised.value)


# ---------------------------------------------------------------------------------------------- duplicates


def test_identical_duplicates_are_merged_ignoring_volatile_metadata(tmp_path):
    plain = pod("team-a", "web", resourceVersion="100", creationTimestamp="2025-04-01T10:00:00Z")
    with_managed_fields = pod(
        "team-a",
        "web",
        resourceVersion="101",
        creationTimestamp="2025-04-01T10:00:00Z",
        managedFields=[
            {"manager": "kubelet", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {}}
        ],
    )
    write_dump(
        tmp_path,
        {"a.json": as_json(kubectl_list(plain)), "b.yaml": as_yaml(with_managed_fields)},
    )
    collection = read_dump(tmp_path)

    (kept,) = collection.objects["Pod"]
    assert kept["metadata"]["resourceVersion"] == "100"  # the first copy, in path order
    assert collection.warnings == ["merged 1 identical duplicate object(s)"]


def test_conflicting_duplicates_are_refused_naming_both_files(tmp_path):
    write_dump(
        tmp_path,
        {
            "a/pods.json": as_json(kubectl_list(pod("team-a", "web", image="nginx:1.27"))),
            "b/web.yaml": as_yaml(pod("team-a", "web", image="nginx:1.28")),
        },
    )
    with pytest.raises(DumpError) as raised:
        read_dump(tmp_path)

    error = raised.value
    assert error.path == "kubernetes/b/web.yaml"
    assert error.obj == "Pod/team-a/web (document 1)"
    assert "kubernetes/a/pods.json (Pod/team-a/web (items[0]))" in str(error)
    assert "spec.containers[0].image" in str(error)


def test_same_name_in_two_namespaces_is_not_a_duplicate(tmp_path):
    write_dump(tmp_path, {"pods.json": as_json(kubectl_list(pod("team-a", "web"), pod("team-b", "web")))})
    assert len(read_dump(tmp_path).objects["Pod"]) == 2


# ---------------------------------------------------------------------------------------------- bad files

NOT_UTF8 = b'{"kind": "Namespace", "metadata": {"name": "caf\xe9"}}'
UTF16 = '{"kind": "Namespace"}'.encode("utf-16")
ALIAS_BOMB = (
    "kind: Namespace\nmetadata:\n  name: boom\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
)
BAD_FILES = {
    "invalid JSON": ("bad.json", '{"kind": "Namespace",', None, "invalid JSON"),
    "invalid YAML": (
        "bad.yaml",
        as_yaml(namespace("a")) + "---\nkind: Pod\n\tname: x\n",
        "document 2",
        "invalid YAML",
    ),
    "JSON not a mapping": ("list.json", "[1, 2]", "the document", "is a list, not a Kubernetes object"),
    "YAML not a mapping": (
        "str.yaml",
        as_yaml(namespace("a")) + "---\njust a string\n",
        "document 2",
        "is a string",
    ),
    "item not a mapping": ("items.json", as_json(kubectl_list(namespace("a"), 7)), "items[1]", "is a number"),
    "items not a list": ("items.json", '{"kind": "List", "items": {}}', "List", "items are not a list"),
    "no kind": ("nokind.yaml", "metadata:\n  name: x\n", "document 1", "has no kind"),
    "item without kind": (
        "list.json",
        as_json(kubectl_list({"metadata": {"name": "x"}})),
        "items[0]",
        "has no kind",
    ),
    "no metadata.name": (
        "noname.json",
        '{"apiVersion": "v1", "kind": "Node", "metadata": {}}',
        "Node",
        "metadata.name",
    ),
    "no metadata": ("nometa.json", '{"apiVersion": "v1", "kind": "Node"}', "Node", "has no metadata"),
    "namespaced without namespace": (
        "pod.yaml",
        as_yaml({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {}}),
        "Pod/web (document 1)",
        "has no metadata.namespace",
    ),
    "cluster-scoped with namespace": (
        "pv.json",
        as_json(
            kubectl_list(
                {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "p", "namespace": "x"}}
            )
        ),
        "PersistentVolume/x/p (items[0])",
        "cluster-scoped",
    ),
    "spec not a mapping": (
        "pod.json",
        as_json(pod("a", "web") | {"spec": "oops"}),
        "Pod/a/web",
        "spec is not a mapping",
    ),
    "wrong kind in typed list": (
        "pods.json",
        as_json({"kind": "PodList", "apiVersion": "v1", "items": [namespace("a")]}),
        "items[0]",
        "is a Namespace inside a PodList",
    ),
    "nested list": ("nested.json", as_json(kubectl_list(kubectl_list())), "items[0]", "list inside a list"),
    "not UTF-8": ("ns.json", NOT_UTF8, None, "not UTF-8"),
    "UTF-16": ("ns.json", UTF16, None, "UTF-16"),
    "YAML aliases": ("bomb.yaml", ALIAS_BOMB, "document 1", "anchors and aliases are not accepted"),
    "YAML infinity": (
        "inf.yaml",
        "kind: Namespace\nmetadata:\n  name: x\nsize: .inf\n",
        "document 1",
        "no JSON form",
    ),
    "custom YAML tag": (
        "tag.yaml",
        "kind: !vault secret/ns\n",
        "document 1",
        "the YAML type !vault has no JSON form",
    ),
    "mistagged YAML": (
        "int.yaml",
        "kind: Namespace\nreplicas: !!int many\n",
        "document 1",
        "is not of that type",
    ),
    "non-string mapping key": (  # JSON keys are strings; unquoted, YAML reads `1:` as a number
        "intkey.yaml",
        "kind: Namespace\nmetadata:\n  name: a\n  annotations:\n    1: x\n",
        "document 1",
        "a mapping key must be a string",
    ),
    "YAML-only type": (
        "bin.yaml",
        "kind: Namespace\nmetadata:\n  name: !!binary aGk=\n",
        "document 1",
        "no JSON form",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_naming_the_file_and_the_object(tmp_path, case):
    name, content, obj, message = case
    # A good file sorts first: the reader must still refuse the whole dump, not return what it read.
    write_dump(tmp_path, {"0-good.json": as_json(namespace("good")), name: content})
    with pytest.raises(DumpError) as raised:
        read_dump(tmp_path)

    error = raised.value
    assert error.path == f"kubernetes/{name}"
    assert error.obj == obj
    assert message in error.message
    assert str(error).startswith(f"kubernetes/{name}: ")
    assert gc.isenabled()  # the reader pauses the cycle collector while parsing, never for good


def test_a_missing_kubernetes_folder_is_an_error(tmp_path):
    (tmp_path / "backends").mkdir()
    with pytest.raises(DumpError) as raised:
        read_dump(tmp_path)
    assert raised.value.path == "kubernetes"
    assert "no kubernetes/ folder" in str(raised.value)


# ---------------------------------------------------------------------------------------------- file safety
# Only regular files inside the dump folder are read, up to a size limit: a symbolic link (to a file
# outside, to /dev/zero), a FIFO or a huge file is refused with an error naming it, never followed,
# never read until memory runs out, never waited on.


@pytest.fixture
def no_hang():
    """Fails the test instead of hanging it (a FIFO's open or read blocks without a writer)."""

    def hung(signum, frame):
        raise TimeoutError("the dump reader hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, 10)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def refused(read, directory) -> DumpError:
    with pytest.raises(DumpError) as raised:
        read(directory)
    return raised.value


def test_a_symlink_to_a_file_outside_the_dump_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.json"
    outside.write_text(as_json(namespace("smuggled")))
    dump = write_dump(tmp_path / "dump", {"ns.json": as_json(namespace("a"))})
    (dump / "kubernetes" / "other.json").symlink_to(outside)
    error = refused(read_dump, dump)
    assert error.path == "kubernetes/other.json"
    assert "symbolic link" in error.message and "smuggled" not in str(error)


def test_a_symlink_to_dev_zero_is_refused_without_reading_it(tmp_path, no_hang):
    dump = write_dump(tmp_path, {"ns.json": as_json(namespace("a"))})
    (dump / "kubernetes" / "zero.yaml").symlink_to("/dev/zero")
    error = refused(read_dump, dump)
    assert error.path == "kubernetes/zero.yaml" and "symbolic link" in error.message


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, no_hang):
    dump = write_dump(tmp_path, {"ns.json": as_json(namespace("a"))})
    os.mkfifo(dump / "kubernetes" / "pods.json")
    error = refused(read_dump, dump)
    assert error.path == "kubernetes/pods.json" and "not a regular file (a FIFO)" in error.message


def test_a_file_over_the_size_limit_is_refused(tmp_path, settings):
    settings.DUMP_MAX_FILE_BYTES = 100
    small, large = as_json(namespace("a")), as_json(kubectl_list(*(namespace(f"n{i}") for i in range(9))))
    assert len(small) <= 100 < len(large)
    write_dump(tmp_path, {"a.json": small, "b.json": large})
    error = refused(read_dump, tmp_path)
    assert error.path == "kubernetes/b.json"
    assert error.message == f"is {len(large)} bytes, over the limit of 100 (DUMP_MAX_FILE_BYTES)"


def test_a_symlinked_folder_inside_the_dump_is_refused(tmp_path):
    outside = write_dump(tmp_path / "other", {"ns.json": as_json(namespace("smuggled"))})
    dump = write_dump(tmp_path / "dump", {"ns.json": as_json(namespace("a"))})
    (dump / "kubernetes" / "more").symlink_to(outside / "kubernetes", target_is_directory=True)
    error = refused(read_dump, dump)
    assert error.path == "kubernetes/more" and "symbolic link" in error.message
    (dump / "kubernetes" / "more").unlink()
    (dump / "kubernetes").rename(dump / "real")
    (dump / "kubernetes").symlink_to(dump / "real", target_is_directory=True)
    error = refused(read_dump, dump)
    assert error.path == "kubernetes" and "symbolic link" in error.message


def test_the_dump_folder_itself_may_be_reached_through_a_symlink(tmp_path):
    dump = write_dump(tmp_path / "dump", {"ns.json": as_json(namespace("a"))})
    (tmp_path / "latest").symlink_to(dump, target_is_directory=True)
    assert len(read_dump(tmp_path / "latest").objects["Namespace"]) == 1


def test_backend_files_are_held_to_the_same_rules(tmp_path, settings, no_hang):
    outside = tmp_path / "answers.json"
    outside.write_text(json.dumps({"type": "ontap", "backend": "smuggled", "responses": {}}))
    backends = tmp_path / "dump" / "backends"
    backends.mkdir(parents=True)
    (backends / "link.json").symlink_to(outside)
    assert "symbolic link" in refused(read_backends, tmp_path / "dump").message
    (backends / "link.json").unlink()
    (backends / "zero.json").symlink_to("/dev/zero")
    assert "symbolic link" in refused(read_backends, tmp_path / "dump").message
    (backends / "zero.json").unlink()
    os.mkfifo(backends / "pipe.json")
    assert "not a regular file" in refused(read_backends, tmp_path / "dump").message
    (backends / "pipe.json").unlink()
    (backends / "big.json").write_text(outside.read_text())
    settings.DUMP_MAX_FILE_BYTES = 10
    error = refused(read_backends, tmp_path / "dump")
    assert error.path == "backends/big.json" and "over the limit of 10" in error.message
