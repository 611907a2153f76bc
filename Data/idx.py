"""Reader for the IDX files in which MNIST and Fashion-MNIST are distributed.

Layout (all integers big-endian)::

    byte 0-1   0x00 0x00
    byte 2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64
    byte 3     number of dimensions n
    4 * n      the size of each dimension (uint32)
    ...        the data, row-major

Files may be gzipped (``.gz``). The header is read first and the data only up to
the size it promises (at most ``MAX_BYTES``), so a forged header or a gzip bomb
is refused before it is decompressed. Every check failure raises ``IDXError``
(a ``ValueError``) naming the file and what is wrong.
"""
import gzip
import math
import zlib
from pathlib import Path

import numpy as np

TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 1 << 30             # MNIST's largest file holds 47 MB


class IDXError(ValueError):
    """A file is not a well-formed IDX file."""


def read_idx(path):
    """Return the array stored in the IDX file ``path`` (gzipped or raw).

    Raises:
        IDXError: bad magic number, unknown type, a size beyond ``MAX_BYTES``, or a
            length that does not match the dimensions (a truncated or padded file).
    """
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            return _read(path, f)
    except (OSError, EOFError, zlib.error) as err:
        raise IDXError(f"{path}: cannot read the IDX file ({err})") from None


def _read(path, f):
    head = f.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise IDXError(f"{path}: not an IDX file (the magic number must start with two zero "
                       f"bytes, got {head.hex() or 'an empty file'})")
    code, ndim = head[2], head[3]
    if code not in TYPES:
        raise IDXError(f"{path}: unknown IDX element type 0x{code:02x}")
    dims = f.read(4 * ndim) if ndim <= 4 else b""
    if not 1 <= ndim <= 4 or len(dims) < 4 * ndim:
        raise IDXError(f"{path}: expected 1 to 4 dimensions in the header, got {ndim}"
                       f"{' (truncated header)' if ndim <= 4 else ''}")
    shape = tuple(int(n) for n in np.frombuffer(dims, ">u4"))
    dtype = np.dtype(TYPES[code])
    expected = math.prod(shape) * dtype.itemsize
    if expected > MAX_BYTES:
        raise IDXError(f"{path}: dimensions {shape} need {expected} bytes of data, more than "
                       f"an IDX file may hold here ({MAX_BYTES})")
    raw = f.read(expected + 1)            # one byte more tells trailing data apart
    if len(raw) != expected:
        header = 4 + 4 * ndim
        found = f"{header + len(raw)} (truncated)" if len(raw) < expected else \
            "more (trailing data)"
        raise IDXError(f"{path}: dimensions {shape} need {header + expected} bytes, the file "
                       f"has {found}")
    return np.frombuffer(raw, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzipped if ``path`` ends in ``.gz``)."""
    array = np.asarray(array)
    codes = {np.dtype(t).newbyteorder("="): c for c, t in TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: expected one of the IDX dtypes, got {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
