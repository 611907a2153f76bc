"""The archive: a stored zip of the document and arrays, sealed, written atomically.

A checkpoint is one uncompressed zip archive (``unzip -l`` lists it)::

    network.json        the document (``checkpoint/document.py``)
    arrays/0.npy ...    every array, a NumPy .npy file named by the document

and the zip comment ``sha256:<64 hex digits>``, the SHA-256 of every byte of the
file before those 64 digits, so a flipped or truncated byte is reported.

Saving is atomic: the archive goes to a temporary file next to the destination
(created with mode 0666 minus the umask, by the OS), is flushed to disk and renamed
over it. Temporary files left by a killed save are removed by the next save to the
same path.
"""
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
from pathlib import Path

import numpy as np

DOCUMENT = "network.json"
SEAL = b"sha256:"
STAMP = (1980, 1, 1, 0, 0, 0)        # a fixed timestamp: the same network gives the same bytes
NAME_BYTES = 120                     # of the destination's name kept in a temporary file's name


def pack(doc, arrays):
    """The checkpoint's bytes: a stored zip of ``doc`` (as JSON) and ``arrays``, then the seal."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo(DOCUMENT, STAMP), json.dumps(doc, indent=1, allow_nan=False))
        for index, array in enumerate(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, array, version=(1, 0), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"arrays/{index}.npy", STAMP), member.getvalue())
        zf.comment = SEAL + b"0" * 64
    data = bytearray(buffer.getvalue())
    data[-64:] = hashlib.sha256(memoryview(data)[:-64]).hexdigest().encode()
    return bytes(data)


def write_atomically(path, data):
    """Write ``data`` to ``path`` through a temporary file and a rename (see the module)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    _remove_leftovers(path)
    tmp = directory / f".{_stem(path.name)}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp"
    # O_EXCL: never follow or reuse an existing file; mode 0666 is reduced by the umask.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _stem(name):
    """``name``, or for a long one its first bytes and a digest: a temporary file's name
    stays under the 255 bytes a file system allows."""
    if len(name.encode()) <= NAME_BYTES:
        return name
    head = name.encode()[:NAME_BYTES // 2].decode(errors="ignore")
    return f"{head}~{hashlib.sha256(name.encode(errors='surrogateescape')).hexdigest()[:16]}"


def _remove_leftovers(path):
    """Delete temporary files of earlier saves to ``path`` whose process is gone."""
    pattern = re.compile(rf"^\.{re.escape(_stem(path.name))}\.(\d+)-[0-9a-f]{{12}}\.tmp$")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        # A live process (this one included: another thread) may be writing it right now.
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(directory / name)
        except OSError:
            pass


def _process_alive(pid):
    try:
        os.kill(pid, 0)                   # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
