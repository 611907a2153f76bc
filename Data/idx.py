"""Reader for the IDX files in which MNIST and Fashion-MNIST are distributed.

Layout (all integers big-endian)::

    byte 0-1   0x00 0x00
    byte 2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64
    byte 3     number of dimensions n
    4 * n      the size of each dimension (uint32)
    ...        the data, row-major

Files may be gzipped (``.gz``). Every check failure raises ``IDXError`` (a
``ValueError``) naming the file and what is wrong.
"""
import gzip
from pathlib import Path

import numpy as np

TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXError(ValueError):
    """A file is not a well-formed IDX file."""


def read_idx(path):
    """Return the array stored in the IDX file ``path`` (gzipped or raw).

    Raises:
        IDXError: bad magic number, unknown type, or a length that does not match
            the dimensions (a truncated or padded file).
    """
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise IDXError(f"{path}: cannot read the IDX file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{path}: not an IDX file (the magic number must start with two zero "
                       f"bytes, got {raw[:4].hex() or 'an empty file'})")
    code, ndim = raw[2], raw[3]
    if code not in TYPES:
        raise IDXError(f"{path}: unknown IDX element type 0x{code:02x}")
    if not 1 <= ndim <= 4 or len(raw) < 4 + 4 * ndim:
        raise IDXError(f"{path}: expected 1 to 4 dimensions in the header, got {ndim}"
                       f"{' (truncated header)' if ndim <= 4 else ''}")
    shape = tuple(int(n) for n in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(TYPES[code])
    expected = 4 + 4 * ndim + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise IDXError(f"{path}: dimensions {shape} need {expected} bytes, the file has "
                       f"{len(raw)} ({'truncated' if len(raw) < expected else 'trailing data'})")
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


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
