"""Parsing shared by the management commands' options."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from inventory.models import check_cluster_name


def csv_list(value: str | None) -> list[str] | None:
    """`a, b,,c` -> ["a", "b", "c"]; None (option not given) stays None."""
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]


def cluster_name(value: str) -> str:
    """A `--cluster`/NAME argument that must name a valid cluster: a clear error, never a traceback."""
    try:
        return check_cluster_name(value)
    except ValidationError as error:
        raise CommandError(error.messages[0]) from None


def validation_messages(error) -> str:
    """A model's ValidationError as one line an operator reads."""
    if hasattr(error, "message_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)
