"""The one way a time is written out (the REST API, `manage.py findings --format json`, event
details): RFC 3339 in UTC with `Z`, as Django REST framework writes its DateTimeFields.  A leaf."""

from datetime import UTC, datetime


def rfc3339(value: datetime | None) -> str | None:
    """`2026-06-01T12:00:00Z` (fractions of a second kept when there are any); None stays None.
    A naive time is taken as UTC (the project stores aware UTC times)."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")
