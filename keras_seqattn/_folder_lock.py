"""`hold(folder)`: an output folder belongs to one running command at a time.

A training run or an export that writes into a folder another command is still
writing into would mix the two results, or replace one with the other while
both report success. So each holds the folder for as long as it runs: a lock
file beside it, `<parent>/.<name>.keras-seqattn.lock` (inside the folder,
`<folder>/.keras-seqattn.lock`, only where its parent is not writable), holding
the holder's process id, command line, start time and host as JSON, and an
exclusive `fcntl.flock` on it. A second command on the folder is refused at
once with a `FolderInUseError` that names the holder.

The kernel releases a `flock` when its process ends, however it ends (`kill -9`
included), and a reboot clears every lock; so a lock file whose lock is free
but which still names a holder was left by a holder that died. The next command
takes it over and says so in one line on stderr. A holder that finishes, or
fails with an error, empties and removes the file.

Re-entrant within a thread: a `hold` of a folder that the same thread holds
already passes through, so that a caller holding a folder may call
`export_model` or a training job (each holds its `out`) on it. Another thread
of the same process is refused like another process.

On Windows, which has no `fcntl`, the lock is `msvcrt.locking` on one byte past
the holder's record (released by the system when the process ends, as
`flock`). Where neither exists, or the file system refuses locks, the record
is written but nothing is excluded. Over NFS, `flock` is as reliable as the
server's locking.

The module itself uses the standard library only, so that it runs loaded on
its own from its file (as the holder processes of its tests load it, without
Keras); imported as `keras_seqattn._folder_lock`, it imports the package, and
so Keras, first.
"""

import contextlib
import itertools
import json
import os
import pathlib
import shlex
import socket
import sys
import threading
import time

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
try:
    import msvcrt
except ImportError:  # everything else
    msvcrt = None

SUFFIX = ".keras-seqattn.lock"
# Windows locks bytes, and a locked byte cannot be read: lock one past the record.
_WINDOWS_LOCK_OFFSET = 1 << 20
_ATTEMPTS = 20  # opens of the lock file whose parent another command removed meanwhile
_HELD = {}  # lock file -> (thread id, descriptor), of the locks this process holds
_GUARD = threading.Lock()


class FolderInUseError(OSError):
    """The folder is held by another running command (process, or thread)."""


def lock_path(folder):
    """The lock file of `folder` (which need not exist): beside it where possible."""
    folder = pathlib.Path(folder).resolve()
    if folder.name and (_writable(folder.parent) or not folder.is_dir()):
        return folder.parent / f".{folder.name}{SUFFIX}"
    return folder / SUFFIX


@contextlib.contextmanager
def hold(folder):
    """Holds `folder` for this thread while the `with` block runs.

    Creates the folder's parents if need be (removed again if still empty),
    never the folder itself. Gives the `record()` of the holder it took over
    from (one that died), else `None`: what it left is recognisably its own.

    Raises:
        FolderInUseError: another running command holds `folder`; the
            message names its process id, command line and start time.
    """
    path = lock_path(folder)
    me = threading.get_ident()
    with _GUARD:
        holder = _HELD.get(path, (None,))[0]
    if holder is not None and holder != me:
        raise FolderInUseError(
            f"{os.fspath(folder)} is in use by another thread of this process "
            f"({_command()}); wait for it to finish, or choose another output folder"
        )
    if holder == me:  # held already, by an outer `hold` that releases it
        yield None
        return
    created = _make_folders(path.parent)
    try:
        fd, previous = _acquire(path, folder, created)
    except BaseException:
        _remove_empty(created)
        raise
    with _GUARD:
        _HELD[path] = (me, fd)
    try:
        yield previous or None
    finally:
        with _GUARD:
            del _HELD[path]
        _release(path, fd)
        _remove_empty(created)


def descriptor(folder):
    """The lock's open descriptor, if this thread holds `folder` with `flock`, else `None`.

    A child process given it (`subprocess.run(..., pass_fds=...)`) shares the
    lock: the folder stays held while the child runs, even if this process is
    killed first, so that no other command takes over from an orphaned child.
    """
    with _GUARD:
        me, fd = _HELD.get(lock_path(folder), (None, None))
    return fd if fcntl is not None and me == threading.get_ident() else None


def _acquire(path, folder, created):
    """`(fd, previous)`: `path` open, locked and holding this process's record, and
    the record of the dead holder it took over from (`{}` if none).

    Parents it has to make again are added to `created` (deepest first).
    """
    for attempt in itertools.count():
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            # Another command that made the parents removed them again, empty, as it
            # failed or finished between our `_make_folders` and this open.
            if attempt >= _ATTEMPTS:
                raise
            made = set(created) | set(_make_folders(path.parent))
            created[:] = sorted(made, key=lambda p: len(p.parts), reverse=True)
            continue
        try:
            if not _lock(fd):
                raise FolderInUseError(_in_use(folder, _read(fd)))
            if not _is_file_at(fd, path):
                # Its holder removed it on finishing, between our open and lock:
                # that file is no lock any more, the next one at `path` is.
                os.close(fd)
                continue
            previous = _read(fd)
            _write(fd, json.dumps(record()))
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        if previous:
            print(
                f"keras-seqattn: taking over {os.fspath(folder)} from {describe(previous)}, "
                "which is no longer running",
                file=sys.stderr,
                flush=True,
            )
        return fd, previous


def _release(path, fd):
    # Emptied first: a file that still names a holder means one that died.
    with contextlib.suppress(OSError):
        _write(fd, "")
    if msvcrt is not None and fcntl is None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)  # Windows removes no open file
        with contextlib.suppress(OSError):
            path.unlink()
        return
    # Removed while still locked, so no one locks the removed file after us
    # and believes to hold the folder (see the check in `_acquire`).
    with contextlib.suppress(OSError):
        path.unlink()
    os.close(fd)


def _lock(fd):
    """Locks `fd` without waiting; `False` if another process holds it."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # a file system without locks: run as before there were any
            pass
        return True
    if msvcrt is not None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
    return True


def _is_file_at(fd, path):
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


def _read(fd):
    """The record in the lock file: `{}` if empty or unreadable."""
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 1 << 16)
    try:
        content = json.loads(data.decode("utf-8")) if data.strip() else {}
    except ValueError:
        return {"command": "an unreadable record"}
    return content if isinstance(content, dict) else {"command": "an unreadable record"}


def _write(fd, text):
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode("utf-8"))


def record():
    """This process, as a lock file (or an export's staging marker) records it."""
    return {
        "pid": os.getpid(),
        "command": _command(),
        "started": time.time(),
        "host": socket.gethostname(),
    }


def _command():
    argv = list(getattr(sys, "argv", None) or [""])
    program = os.path.basename(argv[0])
    argv[:1] = ["python", "-c"] if program == "-c" else [program or "python"]
    return " ".join(shlex.join(argv).split())[:300]  # one line, however long


def describe(holder):
    """`process 1234 (keras-seqattn train ...)`, from a `record()`."""
    host = holder.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"process {holder.get('pid', '?')}{where} ({holder.get('command', '?')})"


def _in_use(folder, holder):
    started = holder.get("started")
    since = ""
    if isinstance(started, (int, float)):
        since = " since " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    return (
        f"{os.fspath(folder)} is in use by {describe(holder)}{since}; "
        "wait for it to finish, or choose another output folder"
    )


def _writable(folder):
    """Whether `folder` can be written, or created in its nearest existing ancestor."""
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    return existing is not None and existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def _make_folders(folder):
    """Creates `folder` and its missing parents; returns those created, deepest first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders):
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()  # fails, as wanted, once anything was written into it
