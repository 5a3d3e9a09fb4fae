"""Files leadshare writes for the user (`export --out`, `dashboard --out`, the rejects file,
`backup`): the one place that decides whether a target may be written and how.

- The ledger itself, its -wal/-shm, and any other SQLite database are refused before any work:
  one typo must not replace the audit log with a CSV.
- A regular file (or a new one) is written through a temporary file and os.replace, so readers
  see the old file or the whole new one; a new file is 0600, as it holds customers' data.
- A target that exists and is not a regular file (a FIFO, /dev/stdout, a device) is opened and
  written into: replacing it would swap the pipe or device for a plain file.
- `-` is standard output.

Also the spreadsheet-safe cell every csv leadshare writes goes through (OWASP CSV injection).
No heavy imports: the importer and the CLI both use this.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, TypeVar

from leadshare.errors import LeadshareError

T = TypeVar("T")

# A spreadsheet runs a cell starting with these as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SQLITE_HEADER = b"SQLite format 3\x00"
LEDGER_COMPANIONS = ("", "-wal", "-shm", "-journal")


def csv_cell(value: Any, plain: bool = False) -> str:
    """One csv cell: text that a spreadsheet would run as a formula (starting with =, +, -, @,
    tab or CR) gets a leading ', so `+60123456789` shows as the phone itself (`plain`: as is)."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return "'" + text if not plain and text.startswith(FORMULA_PREFIXES) else text


class OutputFile:
    """A checked target: made by `output_file()` before any work, written once at the end."""

    def __init__(self, path: Path | None, option: str):
        self.path, self.option = path, option  # path None: standard output

    def __str__(self) -> str:
        return "-" if self.path is None else str(self.path)

    @property
    def is_stream(self) -> bool:
        """Standard output, a FIFO or a device (such as /dev/stdout): a confirmation printed on
        stdout could land in the data itself."""
        return self.path is None or _written_in_place(self.path)

    def write(self, fill: Callable[[IO[str]], T], encoding: str = "utf-8") -> T:
        if self.path is None:
            return _to_stdout(fill)
        if _written_in_place(self.path):
            try:
                with open(self.path, "w", encoding=encoding, newline="") as fh:
                    return fill(fh)
            except OSError as exc:
                raise _write_error(self.path, self.path.parent, exc, self.option) from None
        return _replace(self.path, fill, encoding, self.option)


SYSTEM_FOLDERS = ("/dev/", "/proc/")  # where a name stands for a stream: /dev/stdout, /proc/self/fd/1


def _written_in_place(path: Path) -> bool:
    """A FIFO, a device, or a name under /dev or /proc (such as /dev/stdout redirected to a
    file, or a link to one): opened and written into. Replacing it would swap the pipe or device
    for a plain file, or leave the shell's redirection pointing at the old one."""
    if not path.exists():
        return False
    hop = os.path.abspath(path)
    for _ in range(40):  # the link chain, as the kernel follows it
        if hop.startswith(SYSTEM_FOLDERS):
            return True
        if not os.path.islink(hop):
            break
        hop = os.path.abspath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    return not stat.S_ISREG(os.stat(path).st_mode)


def output_file(target: str | os.PathLike, ledger: str | os.PathLike, option: str = "--out") -> OutputFile:
    """Check `target` against the ledger at `ledger` and the file system; raise one clear
    LeadshareError (exit 2, nothing written) when it must not be written."""
    if str(target) == "-":
        return OutputFile(None, option)
    path = Path(target)
    refuse_database(path, ledger, option)
    if path.is_dir():
        raise LeadshareError(f"{path}: is a folder; nothing was written", f"give a file name, e.g. {option} leads.csv")
    folder = path.parent
    if not folder.is_dir():
        raise LeadshareError(f"{path}: the folder {folder} does not exist; nothing was written",
                             f"create the folder first or choose another {option}")
    return OutputFile(path, option)


def refuse_database(path: Path, ledger: str | os.PathLike, option: str) -> None:
    """The ledger (by any name: a symlink, ./x/../leadshare.db, a hard link), its -wal/-shm, or
    any file that starts as an SQLite database does."""
    hint = f"choose another {option}: leadshare never writes over a database"
    real = os.path.realpath(path)
    ledger_real = os.path.realpath(ledger)
    same = any(real == ledger_real + suffix for suffix in LEDGER_COMPANIONS)
    with contextlib.suppress(OSError):
        same = same or os.path.samefile(path, ledger)
    if same:
        raise LeadshareError(f"{path}: is the ledger {ledger} (or its -wal/-shm); nothing was written", hint)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return  # opening a FIFO to read its header would wait for a writer
        with open(path, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError:
        return  # not there, or not readable: nothing to protect that a write could reach
    if header == SQLITE_HEADER:
        raise LeadshareError(f"{path}: is an SQLite database; nothing was written", hint)


def _to_stdout(fill: Callable[[IO[str]], T]) -> T:
    try:
        result = fill(sys.stdout)
        sys.stdout.flush()
        return result
    except BrokenPipeError:  # `leadshare export | head`: the reader has had enough
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return None  # type: ignore[return-value]


def _replace(path: Path, fill: Callable[[IO[str]], T], encoding: str, option: str) -> T:
    """A temporary file in the same folder, flushed to disk, then renamed over `path`: readers
    see the old file or the whole new one. An existing file keeps its mode; a new one is 0600.
    Any failure leaves `path` as it was and removes the temporary file."""
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    except OSError as exc:
        raise _write_error(path, folder, exc, option) from None
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            result = fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _write_error(path, folder, exc, option) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return result


def _write_error(path: Path, folder: Path, exc: OSError, option: str) -> LeadshareError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return LeadshareError(f"{path}: cannot write in {folder} (read-only or not yours); nothing was written",
                              f"choose another {option} or fix the folder's permissions")
    if exc.errno == errno.ENOSPC:
        return LeadshareError(f"{path}: the disk is full; nothing was written", "free some space and run it again")
    return LeadshareError(f"{path}: cannot write ({exc.strerror or type(exc).__name__}); nothing was written",
                          f"choose another {option}")
