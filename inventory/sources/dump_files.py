"""An offline dump's files, read safely (only regular files inside the dump folder, each up to a
limit) and written privately (files 0600, folders 0700: a dump describes who can reach what).

A dump comes from elsewhere (a colleague, a ticket, an unpacked archive).  A symbolic link in it
could import a file from outside the dump without a word (or /dev/zero until memory runs out), and
a FIFO blocks whoever opens it until a writer comes.  So folders are walked by descriptor without
following links (os.fwalk), each file is opened relative to its folder's descriptor with
O_NOFOLLOW | O_NONBLOCK (a link fails to open, a FIFO opens at once) and checked with fstat, and
anything that is not a regular file, or is over DUMP_MAX_FILE_BYTES, is refused with a DumpError
naming it, before anything is stored.  Only the dump folder the operator names may be reached
through a link.
"""

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from inventory.sources import SourceError

DEFAULT_MAX_FILE_BYTES = 1 << 30  # 1 GiB: a raw `kubectl get --raw` of ~70,000 pods fits in one file
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_ONLY_REGULAR = "only regular files inside the dump folder are read"


class DumpError(SourceError):
    """A dump that cannot be imported: names the file (relative to the dump dir) and the object."""

    def __init__(self, path: str, obj: str | None, message: str):
        self.path = path
        self.obj = obj
        self.message = message
        super().__init__(f"{path}: {obj}: {message}" if obj else f"{path}: {message}")


def max_file_bytes() -> int:
    return int(getattr(settings, "DUMP_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES))


def dump_files(
    directory: str | Path, folder: str, suffixes: frozenset[str]
) -> Iterator[tuple[str, bytes | None]]:
    """(path relative to the dump, content) of each file under DIR/folder in a stable order (a folder's
    files, then its sorted subfolders); content is None for a file whose suffix is not in `suffixes`,
    which is never opened.  Raises DumpError on a link, a special file or a file over the limit."""
    limit = max_file_bytes()
    base_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _refuse_link(folder, folder, base_fd)
        for parent, subfolders, names, parent_fd in os.fwalk(
            folder, dir_fd=base_fd, onerror=_unreadable(folder)
        ):
            subfolders.sort()
            for name in subfolders:  # fwalk would skip a linked folder without a word: refuse it
                _refuse_link(name, f"{parent}/{name}", parent_fd)
            for name in sorted(names):
                relative = f"{parent}/{name}"
                if Path(name).suffix.lower() in suffixes:
                    yield relative, _read(name, relative, parent_fd, limit)
                else:
                    yield relative, None
    finally:
        os.close(base_fd)


def _unreadable(folder: str):
    def refuse(error: OSError):  # fwalk would skip an unreadable folder without a word
        raise DumpError(folder, None, f"a folder in it cannot be read: {error.strerror}")

    return refuse


def _refuse_link(name: str, relative: str, parent_fd: int) -> None:
    if stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode):
        raise DumpError(relative, None, f"is a symbolic link: {_ONLY_REGULAR}")


def _read(name: str, relative: str, parent_fd: int, limit: int) -> bytes:
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=parent_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise DumpError(relative, None, f"is a symbolic link: {_ONLY_REGULAR}") from None
        raise DumpError(relative, None, f"cannot be opened: {error.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DumpError(
                relative, None, f"is not a regular file ({_file_type(info.st_mode)}): {_ONLY_REGULAR}"
            )
        if info.st_size > limit:
            raise DumpError(
                relative, None, f"is {info.st_size} bytes, over the limit of {limit} (DUMP_MAX_FILE_BYTES)"
            )
        data = file.read(info.st_size + 1)
    if len(data) != info.st_size:
        raise DumpError(relative, None, "changed while it was read: import a dump nothing is still writing")
    return data


def private_folder(path: Path) -> Path:
    """Create `path` (and its parents) readable by its owner alone; an existing one is made so."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write `path` as a file only its owner may read (never through a link planted in its place)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file
        file.write(data)
    return path


def _file_type(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a directory" if stat.S_ISDIR(mode) else "not a file"
