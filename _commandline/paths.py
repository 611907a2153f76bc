"""Where a command line writes: names that fit, places checked twice.

A path is checked before any work begins (``problem``) and the checkpoint's place
again when the run saves (``fingerprint``): what a user saved is never lost to a
name the file system refuses, to a directory that cannot take the file, or to a
run that did not write it. What an existing file must be for a save to replace it is
the framework's one rule (``_files.refusal``), and every file is written by its one
atomic writer (``_files.write_atomically``, behind ``checkpoint.save``, ``export_onnx``
and ``Models/plots.py``).
"""
import errno
import hashlib
import os
import tempfile
from pathlib import Path

import _files

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
    an existing ``path`` is one the save may replace by ``_files.refusal`` (a regular
    file this user could write; ``replace=False``: that the path is free).
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
    refused = _files.refusal(path)
    if refused is None and not replace and os.path.lexists(path):
        return f"{path} exists"
    return refused


def fingerprint(path):
    """``(device, inode, size, mtime)`` of the file at ``path``, or None if there is none:
    an atomic save gives a new inode, so another writer's save changes it."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns
