"""The access records read nothing but their declared inputs (arrays/volume_access.py
`DERIVATION_KINDS`, and of each object only the fields that serve the join: inventory/kept_fields.py
`JOIN`, or a purpose every reader may read): a snapshot whose change set touches none of them reuses
the records the worker's last derivation made (`derivation_changed_by`), so an undeclared input would
leave a record standing on something that changed.  The derivation runs on the demo cluster (every
seeded case, on day 21) whose inventory, array records, departed nodes and facts note what it reads."""

import pytest

from arrays.volume_access import DERIVATION_KINDS, derivation_changed_by, derive_records
from inventory.constants import ARRAY_RECORDS
from inventory.field_changes import FIELD_SEPARATOR, readers_of
from inventory.kept_fields import JOIN
from tests.test_rule_inputs import day_21, noting_context  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_the_derivation_reads_only_its_declared_inputs(day_21):  # noqa: F811
    context, noted = noting_context(*day_21)
    records = derive_records(context.state)
    assert records["VolumeAccess"] and records["InlineVolumeAccess"], "a derivation of nothing proves nothing"
    kinds = {input for input in noted if FIELD_SEPARATOR not in input}
    assert kinds <= {*DERIVATION_KINDS, ARRAY_RECORDS, "fact backends"}, sorted(kinds - set(DERIVATION_KINDS))
    fields = [tuple(input.split(FIELD_SEPARATOR)) for input in noted - kinds]
    undeclared = sorted(
        f"{kind}:{root}"
        for kind, root in fields
        if (readers := readers_of(kind, root)) is not None and JOIN not in readers
    )
    assert not undeclared, f"the derivation reads fields that do not serve it: {undeclared}"
    assert all(derivation_changed_by(frozenset({input})) for input in noted)
