"""Where a command line writes: names that fit, places checked twice, files written atomically.

A path is checked before any work begins (``problem``) and the checkpoint's place
again when the run saves (``fingerprint``): what a user saved is never lost to a
name the file system refuses, to a directory that cannot take the file, or to a
run that did not write it.
"""
import errno
import hashlib
import os
import stat
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

# The longest file name (one path component) in bytes on Linux and macOS file systems.
NAME_MAX = 255


def fit(name, limit=NAME_MAX):
    """``name`` if it fits ``limit`` bytes; else its start, ``~``, a hash of the whole
    name and its suffix: the same long name always gives the same short one."""
    encoded = os.fsencode(name)
    if len(encoded) <= limit:
        return name
    stem, dot, suffix = encoded.rpartition(b".")
    suffix = dot + suffix if stem and len(suffix) <= 16 else b""
    digest = hashlib.sha256(encoded).hexdigest()[:8].encode()
    keep = limit - len(suffix) - len(digest) - 1
    return os.fsdecode(encoded[:keep] + b"~" + digest + suffix)


def sibling(path, insert="", suffix=None, room=0):
    """``<stem><insert><suffix>`` next to ``path`` (suffix defaults to ``path``'s), shortened
    by ``fit`` to leave ``room`` bytes of the name free (a temporary name adds them)."""
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    stem = fit(path.stem + insert, NAME_MAX - room - len(os.fsencode(suffix)))
    return path.with_name(stem + suffix)


def temporary(path):
    """A fresh hidden name next to ``path``, same suffix: ``.<name>.<pid>-<hex>.tmp<suffix>``."""
    path = Path(path)
    tag = f".{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp{path.suffix}"
    name = fit(path.name, NAME_MAX - 1 - len(tag))
    return path.with_name(f".{name}{tag}")


def fallback(path, script):
    """Where a save goes when ``path``'s place cannot take it: the system's temporary
    directory, often another file system; the name fits whatever ``path``'s was."""
    name = f"{Path(script).stem}-{os.getpid()}-{Path(path).name}"
    return Path(tempfile.gettempdir()) / fit(name)


def too_long(path):
    """The first component of ``path`` longer than ``NAME_MAX`` bytes, or None."""
    for part in Path(path).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            return part
    return None


def problem(path, replace=True):
    """Why a file could not be written at ``path``, or None if it can.

    Checked: every name fits; no missing directory on the way is a dangling symbolic
    link, a loop of them or a file; the nearest existing directory takes a new file;
    an existing ``path`` is a regular file (not a link, which a rename would replace)
    that this user may replace (``replace=False``: that the path is free).
    """
    path = Path(path)
    part = too_long(path)
    if part is not None:
        return (f"the name {part[:40]}... has {len(os.fsencode(part))} bytes, more than a file "
                f"name may have ({NAME_MAX})")
    folder = path.parent
    while not folder.exists():
        try:
            os.stat(folder)
        except OSError as err:
            if err.errno == errno.ELOOP:
                return f"{folder} is a loop of symbolic links"
            if err.errno == errno.ENOTDIR:
                return f"{folder} is under a file, not a directory"
        if folder.is_symlink():
            return f"{folder} is a symbolic link to nothing (its target does not exist)"
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return f"cannot write in {folder}: {err.strerror or err}"
    if path.is_symlink():
        return f"{path} is a symbolic link; give the file itself"
    if os.path.lexists(path):
        if not replace:
            return f"{path} exists"
        if not path.is_file():
            return f"{path} is not a regular file"
        return foreign(path)
    return None


def foreign(path):
    """Why this user may not replace ``path`` in its sticky directory (/tmp, say), or None."""
    info, parent = os.lstat(path), os.stat(Path(path).parent)
    user = os.geteuid()
    if parent.st_mode & stat.S_ISVTX and user not in (0, info.st_uid, parent.st_uid):
        return (f"{path} belongs to another user (uid {info.st_uid}) in a sticky directory, "
                f"where only its owner may replace it")
    return None


def fingerprint(path):
    """``(device, inode, size, mtime)`` of the file at ``path``, or None if there is none:
    an atomic save gives a new inode, so another writer's save changes it."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


@contextmanager
def atomic(path):
    """Yield a temporary name next to ``path``; when the block ends, rename it to ``path``.

    The name is created fresh (``O_EXCL``: never through a link or over a file) and
    removed if the block fails. A symbolic link at ``path`` is refused, not
    followed or replaced; a rename puts the whole file there at once or nothing.
    """
    path = Path(path)
    if path.is_symlink():
        raise FileExistsError(errno.EEXIST, "a symbolic link is in the way", str(path))
    tmp = temporary(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        if path.is_symlink():
            raise FileExistsError(errno.EEXIST, "a symbolic link is in the way", str(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
