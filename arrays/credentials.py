"""Array credentials, resolved from a reference at the moment of use and never stored.

`env:PREFIX` reads the environment variables PREFIX_USERNAME and PREFIX_PASSWORD; PREFIX must
start with one of the prefixes in the ARRAY_CREDENTIAL_ENV_PREFIXES setting (default `ARRAY_`), so
that a reference cannot reach the product's own secrets (`env:DJANGO_SUPERUSER`, `env:EMAIL_HOST`).
`file:DIR` reads DIR/username and DIR/password (a Kubernetes Secret mounted as a volume); DIR and
both files, symlinks resolved, must lie inside the ARRAY_CREDENTIALS_DIR setting's folder
(default DASHBOARD_DATA_DIR/credentials), and each must be a small regular file.
Errors name the reference, never a value.
"""

import os
import re
import stat
from pathlib import Path

from django.conf import settings

MAX_FILE_BYTES = 4096  # a user name or password; refusing beats reading /dev/zero or a huge file
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CredentialsError(Exception):
    pass


def env_prefixes() -> tuple[str, ...]:
    return tuple(settings.ARRAY_CREDENTIAL_ENV_PREFIXES)


def credentials_folder() -> Path:
    return Path(settings.ARRAY_CREDENTIALS_DIR).resolve()


def validate_reference(reference: str) -> None:
    """The reference's form and that it names an allowed place (nothing is read)."""
    scheme, _, target = reference.partition(":")
    if scheme not in ("env", "file") or not target:
        raise CredentialsError(f"credentials reference {reference!r} must be env:PREFIX or file:/path/to/dir")
    if scheme == "env":
        allowed = env_prefixes()
        if not _ENV_NAME.match(target) or not target.startswith(allowed):
            names = (
                ", ".join(f"{prefix}…" for prefix in allowed)
                or "none (ARRAY_CREDENTIAL_ENV_PREFIXES is empty)"
            )
            raise CredentialsError(
                f"credentials {reference}: environment references must name a prefix allowed by "
                f"ARRAY_CREDENTIAL_ENV_PREFIXES: {names}"
            )
    else:
        _inside_folder(reference, Path(target))


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
    return tuple(_read_file(reference, directory / key) for key in ("username", "password"))


def _inside_folder(reference: str, path: Path) -> Path:
    """`path` with symlinks resolved, if it lies inside the credentials folder."""
    folder = credentials_folder()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise CredentialsError(f"credentials {reference}: cannot resolve {path}: {error}") from None
    if not path.is_absolute() or not resolved.is_relative_to(folder):
        raise CredentialsError(
            f"credentials {reference}: {path} is not inside the credentials folder {folder} "
            "(ARRAY_CREDENTIALS_DIR)"
        )
    return resolved


def _read_file(reference: str, path: Path) -> str:
    resolved = _inside_folder(reference, path)
    try:
        with open(resolved, "rb", opener=_no_blocking_opener) as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise CredentialsError(f"credentials {reference}: {path} is not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise CredentialsError(
                    f"credentials {reference}: {path} is larger than {MAX_FILE_BYTES} bytes"
                )
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise CredentialsError(f"credentials {reference}: cannot read {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CredentialsError(f"credentials {reference}: {path} is not UTF-8 text") from None


def _no_blocking_opener(path, flags):
    # O_NONBLOCK: opening a FIFO planted in the folder returns at once (and is refused above).
    return os.open(path, flags | os.O_NONBLOCK)
