"""Tolerant readers for data from a cluster or an array: any field may hold any JSON type.

Objects reach the rules as stored (tenant-editable objects, hand-made dumps, array answers), so a
reader that expects a mapping, a list or text gets an empty one instead of raising on a number.
"""


def as_mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def as_text(value: object) -> str:
    return value if isinstance(value, str) else ""


def dig(value: object, *path: str) -> object:
    """value[path[0]][path[1]]…, or None where a step is not a mapping."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
