"""Parsing shared by the management commands' options."""


def csv_list(value: str | None) -> list[str] | None:
    """`a, b,,c` -> ["a", "b", "c"]; None (option not given) stays None."""
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]
