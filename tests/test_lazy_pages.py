"""Pages read lazily when the snapshot holds the last read's forms (inventory/sources/lazy_pages.py):
an object whose form is reused is never built; every other object reaches the reducer exactly as
orjson builds it; and where simdjson and orjson could disagree, orjson's reading decides."""

import orjson
import pytest

from inventory.kinds import BY_KIND
from inventory.sources.kubernetes import RequestFailed, _reduced_pages
from inventory.sources.lazy_pages import read_page
from tests.kube_objects import every_kind, make_pod
from tests.test_kubernetes_source import cluster, collect  # noqa: F401 (the fixture)

POD = BY_KIND["Pod"]


class Remembering:
    """A reducer holding forms of the pods at resourceVersion "1" (as StoredForms does of the last
    read): it reuses those, and records what it was given whole."""

    def __init__(self, kinds=("Pod",)):
        self.kinds = kinds
        self.whole: list[dict] = []
        self.asked: list[tuple] = []

    def __call__(self, kind, raw):
        self.whole.append(raw)
        metadata = raw["metadata"] if isinstance(raw["metadata"], dict) else {}
        return ("kept", kind, metadata.get("name"))

    def remembers(self, kind):
        return kind in self.kinds

    def finder(self, kind):
        return lambda key, uid, version: self.reused(kind, key, uid, version)

    def reused(self, kind, key, uid, version):
        self.asked.append((kind, key, uid, version))
        return ("reused", kind, key[1]) if version == "1" else None


def pod(name: str, version: str = "1", namespace: str = "team-a") -> dict:
    raw = make_pod(namespace, name)
    raw["metadata"].update(uid=f"uid-{name}", resourceVersion=version)
    return raw


def page(items, **metadata) -> bytes:
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": metadata, "items": items})


def big_integer_page(version: str) -> bytes:
    """A page whose pod holds an integer beyond 64 bits (orjson writes none: it is spliced in)."""
    body = page([{**pod("web-0", version=version), "spec": {"priority": 4242424242}}])
    return body.replace(b"4242424242", b"1" + b"0" * 30)


def typed(raw: dict) -> dict:
    return {**raw, "kind": "Pod", "apiVersion": "v1"}


def test_a_reused_object_is_never_built_and_the_others_are_built_as_orjson_builds_them():
    moved = pod("web-1", version="2")
    odd = pod("web-2")
    odd["metadata"]["uid"] = 7  # not text: read whole, as the ordinary path reads it
    items = [pod("web-0"), moved, odd, {"metadata": "odd"}]
    reducer = Remembering()
    reduced, token = _reduced_pages(POD, reducer)(page(items))
    assert reduced == [
        ("reused", "Pod", "web-0"),
        ("kept", "Pod", "web-1"),
        ("kept", "Pod", "web-2"),
        ("kept", "Pod", None),
    ]
    assert token is None
    assert reducer.whole == [typed(raw) for raw in items[1:]]
    assert reducer.asked == [
        ("Pod", ("team-a", "web-0"), "uid-web-0", "1"),
        ("Pod", ("team-a", "web-1"), "uid-web-1", "2"),
    ]
    # An item that is not an object meets the reducer as the ordinary path hands it on: it fails there.
    with pytest.raises(TypeError):
        _reduced_pages(POD, Remembering())(page([*items, 5]))


def test_the_continue_token_is_read_from_the_page():
    _, token = _reduced_pages(POD, Remembering())(page([pod("web-0")], **{"continue": "token-2"}))
    assert token == "token-2"


def test_a_cluster_scoped_object_is_asked_for_by_an_empty_namespace():
    raw = pod("pv-0")
    del raw["metadata"]["namespace"]
    reducer = Remembering()
    reduced, token = _reduced_pages(POD, reducer)(page([raw]))
    assert reduced == [("reused", "Pod", "pv-0")] and token is None
    assert reducer.asked == [("Pod", ("", "pv-0"), "uid-pv-0", "1")]


def test_a_kind_the_reducer_holds_no_forms_of_is_read_whole():
    reducer = Remembering(kinds=())
    reduced, _ = _reduced_pages(POD, reducer)(page([pod("web-0")]))
    assert reduced == [("kept", "Pod", "web-0")] and reducer.asked == []


@pytest.mark.parametrize(
    "body",
    [
        # simdjson refuses integers beyond 64 bits; orjson reads them as floats
        big_integer_page(version="1"),
        orjson.dumps({"kind": "PodList", "metadata": {}, "items": {"not": "a list"}}),
        orjson.dumps({"kind": "PodList", "metadata": ["not", "an object"], "items": []}),
        orjson.dumps(["not", "a list object"]),
        b'{"kind": "PodList", "items": [',
    ],
    ids=["big-integer", "items-not-a-list", "metadata-not-an-object", "not-an-object", "cut-off"],
)
def test_what_simdjson_refuses_or_what_is_oddly_shaped_is_left_to_orjson(body):
    assert read_page(body, Remembering().finder("Pod"), lambda item: item) is None


def test_a_big_integer_page_is_read_by_orjson_with_nothing_lost():
    body = big_integer_page(version="1")  # its form is held, yet orjson reads the page whole
    reducer = Remembering()
    reduced, _ = _reduced_pages(POD, reducer)(body)
    assert reduced == [("kept", "Pod", "web-0")]
    assert reducer.whole == [typed(raw) for raw in orjson.loads(body)["items"]]


def test_a_page_that_is_not_json_is_a_failure_either_way():
    with pytest.raises(RequestFailed, match="not valid JSON"):
        _reduced_pages(POD, Remembering())(b'{"kind": "PodList", "items": [')


def test_a_live_list_read_lazily_gives_what_reading_it_whole_gives(cluster):  # noqa: F811
    """Over real HTTP, in pages: the same objects in the same order, the reused ones never built."""
    pods = [pod(f"web-{i:03d}", version="1" if i % 3 else "2", namespace=f"team-{i % 4}") for i in range(120)]
    server, api_client = cluster({**every_kind(), "Pod": pods})
    whole = collect(api_client, page_size=50).objects["Pod"]
    reducer = Remembering()
    lazily = collect(api_client, page_size=50, reduce=reducer).objects["Pod"]
    assert [item[2] for item in lazily] == [raw["metadata"]["name"] for raw in whole]
    moved = [raw["metadata"]["resourceVersion"] == "2" for raw in whole]
    assert sum(moved) == 40
    assert [item[0] for item in lazily] == ["kept" if was else "reused" for was in moved]
    built = [raw for raw in reducer.whole if raw["kind"] == "Pod"]  # other kinds were read whole
    assert built == [raw for raw, was in zip(whole, moved, strict=True) if was]
