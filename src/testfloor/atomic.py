"""Write files so that a reader sees the old content or the new, never a part."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from testfloor.errors import OutputError

if TYPE_CHECKING:
    from collections.abc import Iterator

# Temporary files start with this, whatever they replace: a glob such as ``.coverage.*`` never matches one.
TEMPORARY_PREFIX = ".testfloor-tmp-"


def is_temporary(path: Path) -> bool:
    """Tell whether `path` is named as a temporary file of `replacing` (one left behind by a killed write)."""
    return path.name.startswith(TEMPORARY_PREFIX) and path.name.endswith(".tmp")


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, it replaces `path` in one step.

    If the block raises, the temporary file is removed and `path` is untouched.
    A `path` that cannot be written (a directory, a parent that is a file, no
    permission, a name the system refuses) raises `OutputError` naming it.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{TEMPORARY_PREFIX}{path.name[:64]}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except (OSError, ValueError) as err:
        raise OutputError(f"{path}: cannot write: {_reason(err)}") from None
    temporary = Path(name)
    try:
        # mkstemp makes the file private; keep the mode of the file being replaced, or the usual 0644.
        temporary.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        try:
            os.replace(temporary, path)
        except OSError as err:
            raise OutputError(f"{path}: cannot write: {_reason(err)}") from None
    finally:
        temporary.unlink(missing_ok=True)


def _reason(err: BaseException) -> str:
    return err.strerror if isinstance(err, OSError) and err.strerror else str(err)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, as UTF-8 with ``\\n`` line ends."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="\n")
