"""Reader for the IDX files in which MNIST and Fashion-MNIST are distributed.

Layout (all integers big-endian)::

    byte 0-1   0x00 0x00
    byte 2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64
    byte 3     number of dimensions n
    4 * n      the size of each dimension (uint32)
    ...        the data, row-major

Files may be gzipped (``.gz``). The header is read first and checked against what
the file can hold before anything large is allocated or decompressed: at most
``MAX_BYTES`` of data, a raw file exactly as long as its header says, a gzipped one
no more than ``MAX_RATIO`` times its compressed size (deflate's limit). The data are
then read straight into the array, in chunks, so a file needs about its own size in
memory. A forged header or a gzip bomb is refused before it is decompressed. Every
check failure raises ``IDXError`` (a ``ValueError``) naming the file and what is wrong.
"""
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

import _files

TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# MNIST's and Fashion-MNIST's largest file holds 47 MB (60,000 images): a file that
# promises over 2.5 times that is no dataset this reader serves, whatever else it is.
MAX_BYTES = 128 << 20
MAX_RATIO = 1032                # deflate writes at least 1 byte per 1032 it encodes
CHUNK = 1 << 20


class IDXError(ValueError):
    """A file is not a well-formed IDX file."""


def read_idx(path, max_bytes=MAX_BYTES):
    """Return the array stored in the IDX file ``path`` (gzipped or raw).

    Args:
        max_bytes: the most data (after the header) a file may declare.
    Raises:
        IDXError: bad magic number, unknown type, a size beyond ``max_bytes`` or beyond
            what the file can hold, or a length that does not match the dimensions (a
            truncated or padded file).
    """
    path = Path(path)
    try:
        packed = os.stat(path).st_size
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            return _read(path, f, packed, path.suffix == ".gz", max_bytes)
    except (OSError, EOFError, zlib.error) as err:
        raise IDXError(f"{path}: cannot read the IDX file ({err})") from None


def _read(path, f, packed, gzipped, max_bytes):
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
    header, expected = 4 + 4 * ndim, math.prod(shape) * dtype.itemsize
    if expected > max_bytes:
        raise IDXError(f"{path}: dimensions {shape} need {expected} bytes of data, more than "
                       f"an IDX file may hold here ({max_bytes})")
    if gzipped and header + expected > MAX_RATIO * packed:
        raise IDXError(f"{path}: dimensions {shape} need {header + expected} bytes, more than "
                       f"{packed} gzipped bytes can hold")
    if not gzipped and header + expected != packed:
        _wrong_length(path, shape, header, expected, packed - header)
    array = np.empty(shape, dtype.newbyteorder("="))
    raw = array.reshape(-1).view(np.uint8)
    filled = 0
    while filled < expected:
        got = f.readinto(raw[filled:filled + CHUNK])
        if not got:
            _wrong_length(path, shape, header, expected, filled)
        filled += got
    if f.read(1):                          # one byte more tells trailing data apart
        _wrong_length(path, shape, header, expected, expected + 1)
    if dtype.byteorder == ">" and dtype.itemsize > 1 and np.little_endian:
        array.byteswap(inplace=True)
    return array


def _wrong_length(path, shape, header, expected, found):
    found = f"{header + found} (truncated)" if found < expected else "more (trailing data)"
    raise IDXError(f"{path}: dimensions {shape} need {header + expected} bytes, the file "
                   f"has {found}")


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzipped if ``path`` ends in ``.gz``)."""
    array = np.asarray(array)
    codes = {np.dtype(t).newbyteorder("="): c for c, t in TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: expected one of the IDX dtypes, got {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    _files.write_atomically(path, gzip.compress(raw) if Path(path).suffix == ".gz" else raw,
                            owner="write_idx")
