"""Array credentials, resolved from a reference at the moment of use and never stored.

`env:PREFIX` reads the environment variables PREFIX_USERNAME and PREFIX_PASSWORD.
`file:DIR` reads DIR/username and DIR/password: a Kubernetes Secret mounted as a volume.
Errors name the reference, never a value.
"""

import os
from pathlib import Path


class CredentialsError(Exception):
    pass


def validate_reference(reference: str) -> None:
    scheme, _, target = reference.partition(":")
    if scheme not in ("env", "file") or not target:
        raise CredentialsError(f"credentials reference {reference!r} must be env:PREFIX or file:/path/to/dir")


def resolve(reference: str) -> tuple[str, str]:
    """(username, password) for `reference`."""
    validate_reference(reference)
    scheme, _, target = reference.partition(":")
    if scheme == "env":
        names = (f"{target}_USERNAME", f"{target}_PASSWORD")
        missing = [name for name in names if not os.environ.get(name)]
        if missing:
            raise CredentialsError(
                f"credentials {reference}: environment variable(s) {', '.join(missing)} not set"
            )
        return os.environ[names[0]], os.environ[names[1]]
    directory = Path(target)
    try:
        return tuple(
            (directory / key).read_text(encoding="utf-8").strip() for key in ("username", "password")
        )
    except OSError as error:
        raise CredentialsError(
            f"credentials {reference}: cannot read {error.filename}: {error.strerror}"
        ) from None
