"""CSV exports: what a page lists, as a spreadsheet may open it safely.

Tenant-controlled text (titles, namespace and tenant names) is hostile: a cell a spreadsheet would
read as a formula (starting with = + - @, a tab or a carriage return) is prefixed with a quote.
"""

import csv
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FINDING_COLUMNS = (
    "id",
    "cluster",
    "rule",
    "severity",
    "status",
    "namespaces",
    "tenants",
    "title",
    "detail",
    "first_seen",
    "at_least_since",
    "resolved_at",
    "path_count",
)


def cell(value) -> str:
    """One CSV cell: lists joined by spaces, None empty, formula-looking text quoted."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """The file object csv.writer writes to: hands back each line instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(columns: Iterable[str], rows: Iterable[dict]) -> Iterator[str]:
    """The header, then one line per row, each cell made safe: for a streaming response."""
    writer = csv.writer(_Line())
    columns = list(columns)
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([cell(row.get(column)) for column in columns])
