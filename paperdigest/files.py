"""Everything paperdigest reads from or writes to the file system (the store aside).

Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to
disk, then renamed over the target, so a reader (a feed poller, a mail pickup) never sees
half a file and a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import re
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from paperdigest.errors import InputError

LISTING_SUFFIXES = {".txt", ".json", ".xml", ".rss", ".atom", ".html", ".htm", ".md", ""}
# A temporary this old was left by a writer that died (a live write takes well under a second).
STALE_TEMP_SECONDS = 3600
_swept: set[Path] = set()  # folders already cleared of stale temporaries by this process


def atomic_write(path: Path, data: bytes | str, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``; with ``overwrite``
    False the temporary is hard-linked instead, so an existing file is never replaced
    (:class:`FileExistsError`), even one created a moment ago by someone else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temps(path.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _sweep_stale_temps(folder: Path) -> None:
    """Remove the hidden temporaries of writers killed mid-write (SIGKILL skips the cleanup
    above), once per folder per process; a fresh one may belong to a live writer and stays."""
    if folder in _swept:
        return
    _swept.add(folder)
    cutoff = time.time() - STALE_TEMP_SECONDS
    for tmp in folder.glob(".*.tmp"):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: harmless either way


def expand_inputs(spec: str | os.PathLike[str]) -> list[Path]:
    """A file, a folder (its listing files, sorted) or a glob pattern (its matches, sorted)."""
    text = os.fspath(spec)
    path = Path(text)
    if glob.has_magic(text):
        matches = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not matches:
            raise InputError(f"{text}: no file matches this pattern")
        return matches
    if path.is_dir():
        found = sorted(p for p in path.iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in LISTING_SUFFIXES)
        if not found:
            raise InputError(f"{text}: folder holds no listing files")
        return found
    if not path.exists():
        raise InputError(f"{text}: no such file")
    return [path]


def read_input(path: Path, max_bytes: int) -> bytes:
    """Read one listing file, refusing one larger than the configured cap before reading it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: file is {size} bytes, over the limit of {max_bytes} "
                             "(raise [limits] max_input_bytes to accept it)")
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except InputError:
        raise
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a listing file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: file is over the limit of {max_bytes} bytes")
    return data


def capture_time(path: Path, now: datetime) -> datetime:
    """When a listing file was captured: its modification time, capped at ``now``."""
    try:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except (OSError, OverflowError, ValueError):
        return now
    return min(mtime, now)


def archive_capture(output_dir: Path, data: bytes) -> Path:
    """Keep every raw capture, gzip-compressed and named by its SHA-256, so any digest can be
    rebuilt from what was actually fetched. Writing the same capture twice is a no-op."""
    digest = hashlib.sha256(data).hexdigest()
    path = output_dir / "archive" / digest[:2] / f"{digest}.gz"
    if not path.exists():
        atomic_write(path, gzip.compress(data, compresslevel=6, mtime=0))
    return path


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name-safe rendering of a recipient address or digest key."""
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]+", "_", text).strip("._") or "x"
    return cleaned[:limit]


def markdown_path(output_dir: Path, digest_key: str) -> Path:
    """``digests/<profile>/<YYYY-MM-DD>[-n].md`` for a digest key ``<profile>/<date>[-n]``."""
    profile, _, day = digest_key.partition("/")
    return output_dir / "digests" / safe_name(profile) / f"{safe_name(day)}.md"


def outbox_path(output_dir: Path, digest_key: str, recipient: str) -> Path:
    """One file per (digest, recipient): rewriting it after a crash cannot make a second copy."""
    tag = hashlib.sha256(f"{digest_key}\n{recipient}".encode()).hexdigest()[:10]
    return output_dir / "outbox" / f"{safe_name(digest_key.replace('/', '_'))}--{safe_name(recipient)}--{tag}.eml"


def feed_path(output_dir: Path, name: str, kind: str) -> Path:
    return output_dir / "feeds" / f"{safe_name(name)}.{'xml' if kind == 'rss' else 'atom'}"
