"""Writing a user's file: what a save may replace, and the one atomic writer.

Every file the framework writes (``checkpoint.save``, ``export_onnx``, the figures of
``Models/plots.py``, ``Data.idx.write_idx``, the command lines) goes through
``write_atomically``, and every place that asks in advance whether a file may be
replaced asks ``refusal``. The rule
(also in docs/checkpoints.md):

    A save may create ``path`` if nothing is there, and may replace a regular file that
    you could replace yourself: one with a write permission bit set, that you may write
    (``os.access``), and not another user's file in a sticky directory such as /tmp.
    It refuses a symbolic link (a rename would replace the link, not the file it points
    to), a directory, a FIFO, a device, a socket and a read-only file (no write bit:
    refused for root too, although root may write anything). The replacement keeps the
    mode of the file it replaces; a new file gets 0666 minus the umask, as ``open`` gives.

Refused, nothing is written. Otherwise the bytes go to a fresh temporary file next to
``path`` (``O_EXCL``: never through a link or over a file), are flushed to disk and
renamed over ``path``: the file is either the old one or the whole new one, never part
of either. The temporary file is removed if anything fails, and one that a killed save
left behind is removed by the next save to the same path.

Two more doors for the command lines: ``problem(path)`` says before any work why a file
could not be written at ``path`` (its place, or the rule for what is there), and
``create(path, write)`` creates a new file exclusively, never over anything. ``fit`` is the
one shortener of names too long for a file system.
"""
import errno
import hashlib
import os
import re
import stat
import tempfile
import uuid
from pathlib import Path

NAME_MAX = 255              # the longest file name (one path component) in bytes on Linux and macOS
NAME_BYTES = 120            # of the destination's name kept in a temporary file's name
KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def refusal(path):
    """Why a save may not replace ``path`` (see the module), or None if it may."""
    rule = _rule(path)
    return None if rule is None else rule[1]


def problem(path):
    """Why a file could not be written at ``path``, checked before any work, or None: the
    place takes no new file (a missing directory on the way is a dangling symbolic link or
    a loop of them, or the nearest directory cannot be written), or the rule refuses what
    is there (``refusal``)."""
    folder = Path(path).parent
    while not folder.exists():
        if folder.is_symlink():
            try:
                os.stat(folder)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    return f"{folder} is a loop of symbolic links"
            return f"{folder} is a symbolic link to nothing (its target does not exist)"
        folder = folder.parent
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        return f"cannot write in {folder}: {err.strerror or err}"
    return refusal(path)


def _rule(path):
    """None, or the error class and the reason that refuse replacing ``path``."""
    if isinstance(path, str) and path.endswith(os.sep):     # Path() would drop the slash
        return IsADirectoryError, f"{path} ends in {os.sep}, a directory's name; give a file name"
    try:
        info = os.lstat(path)
    except OSError:                     # nothing there (or no way there: the write says why)
        return None
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return PermissionError, (f"{path} is a symbolic link; a save would replace the link, "
                                 f"not the file it points to: give the file itself")
    if stat.S_ISDIR(mode):
        return IsADirectoryError, f"{path} is a directory; give a file name"
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in KINDS if test(mode)), "not a regular file")
        return PermissionError, f"{path} is {kind}, not a regular file"
    if mode & 0o222 == 0:
        return PermissionError, (f"{path} is read-only (mode {stat.S_IMODE(mode):04o}); make "
                                 f"it writable (chmod u+w) to replace it")
    if not os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        return PermissionError, f"{path} is not writable by you (mode {stat.S_IMODE(mode):04o})"
    parent = os.stat(Path(path).parent)
    if parent.st_mode & stat.S_ISVTX and os.geteuid() not in (0, info.st_uid, parent.st_uid):
        return PermissionError, (f"{path} belongs to another user (uid {info.st_uid}) in a "
                                 f"sticky directory, where only its owner may replace it")
    return None


def check(path, owner):
    """Raise what ``write_atomically(path, ...)`` would refuse, before any work is done."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{owner}: expected a file path (str or os.PathLike), got {path!r}")
    if os.fspath(path) == "":
        raise ValueError(f"{owner}: expected a file path, got '' (an empty name)")
    error = _refused(path, owner)
    if error is not None:
        raise error


def _refused(path, owner):
    """The error that refuses to replace ``path``, or None."""
    rule = _rule(path)
    if rule is None:
        return None
    kind, why = rule
    return _error(kind, errno.EISDIR if kind is IsADirectoryError else errno.EACCES,
                  f"{owner}: {why}; nothing was written")


def write_atomically(path, data, owner="write_atomically"):
    """Write the bytes ``data`` to ``path`` by the rule and the steps of the module docstring.

    Raises ``OSError`` (``PermissionError`` for a refused file) whose message names
    ``owner`` and ``path``, never the temporary file; ``path`` is then as it was.
    """
    check(path, owner)
    path = Path(path)
    directory = path.parent
    _remove_leftovers(path)
    tmp = _temporary(path, ".tmp")
    try:
        old = os.lstat(path)
    except OSError:
        old = None
    # Created no more open than the file it replaces: nobody else opens it meanwhile.
    mode = 0o666 if old is None else stat.S_IMODE(old.st_mode) & 0o777
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as err:
        raise _named(err, owner, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if old is not None:         # the replacement is the user's file as before
                _keep_owner_and_mode(f.fileno(), old)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # Again: a link or a FIFO may have taken the place while the bytes were written.
        error = _refused(path, owner)
        if error is None:
            os.replace(tmp, path)
    except OSError as err:
        error = _named(err, owner, path)
    except BaseException:
        _unlink(tmp)
        raise
    if error is not None:
        _unlink(tmp)
        raise error
    try:                                # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def create(path, write):
    """Create ``path`` exclusively: ``write(tmp)`` writes a temporary file next to it, which
    is then hard-linked to ``path``. Anything already at ``path`` (a file, a symbolic link,
    another run's save) raises ``FileExistsError``: nothing is replaced, no link followed."""
    path = Path(path)
    tmp = _temporary(path, ".new")
    try:
        write(tmp)
        os.link(tmp, path, follow_symlinks=False)
    finally:
        _unlink(tmp)


def _temporary(path, suffix):
    """A fresh hidden name next to ``path``: ``.<name>.<pid>-<12 hex digits><suffix>``, the
    name shortened by ``fit``; ``_remove_leftovers`` reads the pid back."""
    return path.with_name(f".{fit(path.name, NAME_BYTES)}.{os.getpid()}-"
                          f"{uuid.uuid4().hex[:12]}{suffix}")


def _keep_owner_and_mode(fd, old):
    if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        try:                            # only root may give a file away; others keep theirs
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:
            pass
    os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)     # exactly, whatever the umask


def _unlink(tmp):
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _error(kind, code, text):
    """``kind(text)`` with ``errno`` set: its message is ``text`` alone."""
    err = kind(text)
    err.errno = code
    return err


def _named(err, owner, path):
    """``err`` as the same kind of error, naming ``path`` instead of the temporary file."""
    return _error(type(err), err.errno,
                  f"{owner}: cannot write {path}: {err.strerror or err}; nothing was written")


def fit(name, limit=NAME_MAX):
    """``name`` if it fits ``limit`` bytes; else its start, ``~``, a digest of the whole name
    and its suffix: the same long name always gives the same short one, and a file name
    made from it stays under the 255 bytes a file system allows."""
    encoded = os.fsencode(name)
    if len(encoded) <= limit:
        return name
    stem, dot, suffix = encoded.rpartition(b".")
    suffix = dot + suffix if stem and len(suffix) <= 16 else b""
    digest = hashlib.sha256(encoded).hexdigest()[:8].encode()
    keep = limit - len(suffix) - len(digest) - 1
    return os.fsdecode(encoded[:keep] + b"~" + digest + suffix)


def _remove_leftovers(path):
    """Delete temporary files of earlier saves to ``path`` whose process is gone."""
    pattern = re.compile(rf"^\.{re.escape(fit(path.name, NAME_BYTES))}\.(\d+)-[0-9a-f]{{12}}\.tmp$")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        # A live process (this one included: another thread) may be writing it right now.
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(path.parent / name)
        except OSError:
            pass


def _process_alive(pid):
    try:
        os.kill(pid, 0)                 # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
