"""Helpers of the storage rules: path nesting, Unix permissions, share annotations; and the storage
cases' hits refer only to objects of their snapshot."""

from pathlib import Path

import pytest

from exposure.analysis.storage_backing import ancestors, clean_path, is_nested, world_accessible
from exposure.rules.volume_shared_by_annotation import share_targets
from tests.cases.runner import CASES, run_case

STORAGE_SLUGS = (
    "volume-shared-across-tenants",
    "inline-storage-volume",
    "pv-available-unclaimed",
    "volume-shared-by-annotation",
    "orphaned-backend-volume",
    "uid-gid-not-a-boundary",
    "pv-released-retained",
)


@pytest.mark.parametrize(
    ("inner", "outer", "nested"),
    [
        ("/exports/reports/2024", "/exports/reports", True),
        ("/exports//reports/2024/", "/exports/reports/", True),
        ("/exports/reports", "/exports/reports", True),
        ("/exports/reports-old", "/exports/reports", False),
        ("/exports/reports", "/exports/reports/2024", False),
        ("/exports/a/../reports/x", "/exports/reports", True),
        ("anything", "/", True),
    ],
)
def test_nesting_is_by_path_components(inner, outer, nested):
    assert is_nested(inner, outer) is nested


def test_ancestors_and_clean_path():
    assert clean_path("") == "/"
    assert clean_path("//a/./b/") == "/a/b"
    assert ancestors("/a/b") == ["/a/b", "/a", "/"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("---rwxrwxrwx", True),
        ("---rwxrwx---", False),
        ("---rwxr-xr-x", False),
        ("0777", True),
        ("0770", False),
        (777, True),
        (755, False),
        ("", None),
        (None, None),
        (True, None),
        ("0x1ff", None),
        ("0789", None),
    ],
)
def test_world_accessible(value, expected):
    assert world_accessible(value) is expected


@pytest.mark.parametrize(
    ("value", "targets"),
    [
        ("beta-app", ["beta-app"]),
        (" a, b ,a,, ", ["a", "b"]),
        ("*", ["*"]),
        ("", []),
        (None, []),
        (["a"], []),
    ],
)
def test_share_targets(value, targets):
    assert share_targets(value) == targets


STORAGE_CASES = sorted(p.parent for p in (CASES / "storage").rglob("case.yaml")) + [
    CASES / "tenancy" / "pv-shared-inside-tenant",
    CASES / "tenancy" / "tenant-label-partial",
]


@pytest.mark.django_db
@pytest.mark.parametrize("folder", STORAGE_CASES, ids=[f.name for f in STORAGE_CASES])
def test_hits_refer_to_the_snapshot_and_violations_have_paths(folder: Path, tmp_path):
    context, evaluation = run_case(folder, tmp_path)
    assert not {slug: e for slug, e in evaluation.failed.items() if slug in STORAGE_SLUGS}
    for slug in STORAGE_SLUGS:
        for hit in evaluation.hits.get(slug, []):
            refs = list(hit.objects) + [ref for path in hit.paths for ref in path.refs()]
            assert [ref for ref in refs if context.lookup(ref) is None] == [], (slug, hit.identity)
            assert hit.paths, (slug, hit.identity)
            # pv-released-retained's only path is the administrators' (platform): it explains, never raises.
            if hit.violation and hit.severity != "info" and slug != "pv-released-retained":
                assert any(path.raises_violation for path in hit.paths), (slug, hit.identity)


@pytest.mark.django_db
def test_inside_tenant_sharing_keeps_its_paths(tmp_path):
    _, evaluation = run_case(CASES / "tenancy" / "pv-shared-inside-tenant", tmp_path)
    hits = evaluation.hits["volume-shared-across-tenants"]
    assert len(hits) == 1 and not hits[0].violation
    assert hits[0].paths and all(path.inside_tenant for path in hits[0].paths)
