"""The archive: a stored zip of the document and arrays, sealed, written atomically.

A checkpoint is one uncompressed zip archive (``unzip -l`` lists it)::

    network.json        the document (``checkpoint/document.py``)
    arrays/0.npy ...    every array, a NumPy .npy file named by the document

and the zip comment ``sha256:<64 hex digits>``, the SHA-256 of every byte of the
file before those 64 digits, so a flipped or truncated byte is reported.

Saving is atomic, through the framework's one writer (``_files.write_atomically``): it
replaces only what its rule allows (a regular file you could write), through a
temporary file next to the destination, flushed to disk and renamed over it.
"""
import hashlib
import io
import json
import zipfile

import numpy as np

import _files

DOCUMENT = "network.json"
SEAL = b"sha256:"
STAMP = (1980, 1, 1, 0, 0, 0)        # a fixed timestamp: the same network gives the same bytes


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
    """Write ``data`` to ``path`` with ``_files.write_atomically``; errors name checkpoint.save."""
    _files.write_atomically(path, data, owner="checkpoint.save")
