"""The case table: every folder under tests/cases with a case.yaml, imported and analysed."""

import pytest

from tests.cases.runner import case_folders, load_case, mismatches, run_case
from tests.path_checks import dangling_refs, unexplained

FOLDERS = case_folders()


@pytest.mark.django_db
@pytest.mark.parametrize("folder", FOLDERS, ids=[str(f.relative_to(f.parents[1])) for f in FOLDERS])
def test_case(folder, tmp_path):
    context, evaluation = run_case(folder, tmp_path)
    assert mismatches(load_case(folder), evaluation) == []
    assert unexplained(evaluation) == [], "every violation is explained by at least one path"
    assert dangling_refs(context, evaluation) == [], "every path refers only to objects in the snapshot"
