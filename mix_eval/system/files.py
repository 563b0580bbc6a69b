"""Crash-safe file primitives shared by every phase that writes results."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Optional


def fsync_dir(path: Path) -> None:
    """Persist a directory entry (a rename) where the platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _named(path: Path) -> Iterator[None]:
    """Name ``path`` in an OSError that names no file (a full disk fails in write() or
    fsync(), whose errors carry no file name), so the user is told which file."""
    try:
        yield
    except OSError as e:
        if e.filename is None:
            e.filename = str(path)
        raise


_TMP_MARK = ".tmp-"


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a file so that readers see the old content or the new, never half."""
    path = Path(path)
    tmp = _temp_name(path)
    with _named(path):
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
    fsync_dir(path.parent)


def remove_stale_temp_files(folder: Path) -> int:
    """Delete the temporary files of atomic writes whose process is gone (a SIGKILL in
    the middle of `write_text_atomic`); returns how many were removed."""
    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        head, mark, pid = name.rpartition(_TMP_MARK)
        if not (name.startswith(".") and mark and head and pid.isdigit()):
            continue
        if int(pid) == os.getpid() or _process_alive(int(pid)):
            continue
        try:
            entry.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # it exists but is not ours (EPERM), or we cannot tell: keep its file
        return True
    return True


def write_json_atomic(path: Path, obj: Any, *, indent: Optional[int] = 4) -> None:
    """`json.dump` to a file atomically (see `write_text_atomic`)."""
    write_text_atomic(path, json.dumps(obj, indent=indent))


def append_lines_durably(path: Path, lines: list[str]) -> None:
    """Append whole lines and force them to disk before returning.

    One write call per batch: a kill leaves either whole lines or a torn last line,
    which the tolerant reader (`mix_eval.records.jsonl.read_jsonl`) finds and
    `mix_eval.records.jsonl.cut_torn_tail` drops.
    """
    if not lines:
        return
    data = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    with _named(path), open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class FolderBusyError(Exception):
    """Another process holds the lock of a folder."""


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the duration of the block.

    One writer per output folder: two runs appending to the same response file would
    interleave and duplicate items. The lock is an OS lock (flock), so a killed run
    never leaves a stale one behind; the temporary files a killed run may have left in
    the folder are removed once the lock is held (`remove_stale_temp_files`).
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, as before
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise FolderBusyError(holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        remove_stale_temp_files(path.parent)
        yield
    finally:
        os.close(fd)
