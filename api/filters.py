"""The findings filter of the API: the pages' filter (dashboard/filters.py) with the API's date
bounds and orderings.  One definition of what each filter selects, for the page, its CSV and the API."""

from datetime import datetime

from django import forms

from api.pagination import Key
from dashboard.filters import SORTS, FindingFilter
from tenancy.scope import Scope

# The pages' sorts (and the id), each ending in the unique id: a fixed order to page through.
_KINDS = {"severity_rank": int, "first_seen": datetime}


def _keys(sort: tuple[str, ...]) -> tuple[Key, ...]:
    return tuple(Key(f.lstrip("-"), f.startswith("-"), _KINDS[f.lstrip("-")]) for f in sort) + (Key("id"),)


ORDERINGS = {name: _keys(sort) for name, sort in SORTS.items()} | {
    "id": (Key("id"),),
    "-id": (Key("id", descending=True),),
}
DEFAULT_ORDERING = "-severity"


class ApiFindingFilter(FindingFilter):
    first_seen_after = forms.DateTimeField(required=False)
    first_seen_before = forms.DateTimeField(required=False)
    resolved_after = forms.DateTimeField(required=False)
    resolved_before = forms.DateTimeField(required=False)

    # The pages' day-only bounds and sort: the API has the bounds above and `ordering`.
    PAGE_ONLY = ("sort", "first_seen_since", "resolved_since")

    def __init__(self, data, scope: Scope):
        super().__init__(data, scope)
        for name in self.PAGE_ONLY:
            del self.fields[name]

    def selected(self):
        findings = super().selected()
        if not self.is_valid():
            return findings
        bounds = {
            "first_seen__gte": "first_seen_after",
            "first_seen__lt": "first_seen_before",
            "resolved_at__gte": "resolved_after",
            "resolved_at__lt": "resolved_before",
        }
        for lookup, name in bounds.items():
            if (value := self.cleaned_data.get(name)) is not None:
                findings = findings.filter(**{lookup: value})
        return findings
