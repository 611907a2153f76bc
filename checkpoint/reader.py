"""The reader: every check a file passes before anything is built from it.

Only a regular file of bounded size is opened, and ``zipfile`` reads it: the CRC of each
member catches a flipped or truncated byte. The document is strict JSON, each value
checked for type and range where it is used, naming only registered classes. Each ``.npy``
header is checked against the document and the layer's arguments (dtype, shape, exactly
the bytes that shape needs) before its data is read, never with ``allow_pickle``. Every
problem is one ``CheckpointError`` naming the file and the place in it.
"""
import json
import math
import os
import re
import stat
import sys
import zipfile

import numpy as np

import _checks
from _checks import CheckpointError, StateError

from .registry import FLOAT_DTYPES, NESTED, REQUIRED, classes, defaults

DOCUMENT = "network.json"
MAX_FILE_BYTES, MAX_DOCUMENT_BYTES = 4 << 30, 4 << 20   # a 13-layer CNN's document is 6 KB
MAX_MEMBERS = 100_000     # zip entries, counted before zipfile builds an object for each
MAX_STRING, MAX_ARGUMENT_ITEMS, MAX_ARGUMENT_DEPTH, CHUNK = 1000, 64, 4, 1 << 20
ANY_FLOAT = [(dtype, None) for dtype in FLOAT_DTYPES.values()]     # any float array


def short(value, limit=60):
    """``value`` on one line of at most ``limit`` characters (a non-string as its repr)."""
    text = " ".join((value if isinstance(value, str) else repr(value)).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def open_file(filename):
    """``filename`` opened for reading; a pipe or a device is refused unopened."""
    mode = os.stat(filename).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):     # a directory: open raises
        raise CheckpointError(f"{filename}: not a checkpoint (not a regular file)")
    return open(filename, "rb")


def _no_duplicates(pairs):
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError(f"duplicate key in an object: {short(sorted(k for k, _ in pairs))}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


class Reader:
    """Checks one checkpoint, the open file ``f``: its members and JSON at once (``doc``),
    the values of its document and its arrays as they are read."""

    def __init__(self, filename, f):
        def refuse(message):
            raise CheckpointError(f"{filename}: {message}")
        self.filename, self.used, self.filled = filename, set(), {}
        self.size, head = os.fstat(f.fileno()).st_size, f.read(4)
        if self.size > MAX_FILE_BYTES:
            refuse(f"{self.size} bytes, more than a checkpoint may have ({MAX_FILE_BYTES})")
        if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"cc"):
            refuse("this is a pickle (the format of older versions). Loading a pickle can run any "
                   "code, so it is refused. If you trust the file and who sent it, convert it once "
                   f"with: .venv/bin/python ConvertCheckpoint.py {filename} NEW.ckpt")
        if head != b"PK\x03\x04":
            refuse(f"not a checkpoint (expected a zip archive starting with PK, got {head!r})")
        count, tail = 0, b""
        while chunk := f.read(CHUNK):
            count, tail = count + (tail + chunk).count(b"PK\x01\x02"), chunk[-3:]
            if count > MAX_MEMBERS:
                refuse(f"expected at most {MAX_MEMBERS} members")
        self.zf = zf = zipfile.ZipFile(f)
        infos = zf.infolist()
        if len(zf.NameToInfo) != len(infos):
            refuse(f"expected distinct members, got {len(infos)} of {len(zf.NameToInfo)} names")
        if any(i.compress_type or i.flag_bits & 1 for i in infos) or \
                sum(i.file_size for i in infos) > self.size:
            refuse("members compressed, encrypted or larger than the file")
        if DOCUMENT not in zf.NameToInfo or zf.getinfo(DOCUMENT).file_size > MAX_DOCUMENT_BYTES:
            refuse(f"no {DOCUMENT} in the archive, or more than {MAX_DOCUMENT_BYTES} bytes of it")
        try:
            self.doc = json.loads(zf.read(DOCUMENT).decode("utf-8"), parse_constant=_no_constant,
                                  object_pairs_hook=_no_duplicates)
        except RecursionError:
            refuse(f"{DOCUMENT} is nested too deep")
        except ValueError as err:           # UnicodeDecodeError and JSONDecodeError too
            refuse(f"{DOCUMENT} is not valid JSON ({short(str(err))})")

    def fail(self, where, message):
        raise CheckpointError(f"{self.filename}: {where}: {message}")

    def check(self, value, ok, where, what):
        """``value`` if ``ok``, else the error "expected {what}, got {value}"."""
        return value if ok else self.fail(where, f"expected {what}, got {short(value)}")

    def obj(self, value, where, keys, optional=()):
        self.check(value, isinstance(value, dict), where, "an object")
        missing = [k for k in keys if k not in value]
        unknown = [k for k in value if k not in keys and k not in optional]
        if missing or unknown:
            self.fail(where, f"expected the keys {sorted(keys)}, " +
                      (f"missing {missing}" if missing else f"unknown {short(unknown)}"))
        return value

    def mapping(self, value, where):
        return self.check(value, isinstance(value, dict), where, "an object")

    def list(self, value, where, length=None):
        return self.check(value, isinstance(value, list) and length in (None, len(value)), where,
                          "a list" if length is None else f"a list of {length} items")

    def int(self, value, where, low=0, high=2**63 - 1):
        self.check(value, type(value) is int, where, "an integer")     # not a bool
        try:
            return _checks.size(None, where.rsplit(".", 1)[-1], value, low, high)
        except ValueError as err:
            self.fail(where, short(str(err), 200))

    def float(self, value, where, none=False):
        # abs(value) <= max is false for NaN, inf and integers too large for a float.
        ok = none and value is None or isinstance(value, (int, float)) and \
            not isinstance(value, bool) and abs(value) <= sys.float_info.max
        return None if self.check(value, ok, where, "a finite number") is None else float(value)

    def number(self, value, where):
        """A state entry that is no array: a boolean, an integer, a float or null."""
        return value if isinstance(value, bool) else self.int(value, where, -2**63) \
            if isinstance(value, int) else self.float(value, where, none=True)

    def bool(self, value, where):
        return self.check(value, isinstance(value, bool), where, "true or false")

    def name(self, value, registry, where):
        return registry[self.check(value, isinstance(value, str) and value in registry, where,
                                   f"one of {', '.join(registry)}")]

    def argument(self, value, where, depth=0):
        """A constructor argument: a number, boolean, null, short string, or a list (given
        as a tuple) or object of them, of bounded size and depth."""
        nested = isinstance(value, (list, dict)) and depth < MAX_ARGUMENT_DEPTH \
            and len(value) <= MAX_ARGUMENT_ITEMS
        if nested and isinstance(value, list):
            return tuple(self.argument(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
        if nested:
            return {k: self.argument(v, f"{where}.{short(k, 40)}", depth + 1)
                    for k, v in value.items()}
        if isinstance(value, float):
            return self.float(value, where)
        leaf = value is None or isinstance(value, bool) or isinstance(value, str) and \
            len(value) <= MAX_STRING or type(value) is int and -2**63 <= value < 2**63
        return self.check(value, leaf, where, f"a number, boolean, null, a string of at most "
                          f"{MAX_STRING} characters, or a list or object of them (at most "
                          f"{MAX_ARGUMENT_ITEMS} items, integers within +-2**63)")

    def build(self, kind, doc, where, extra=(), flat=False):
        """The object of ``{"class", "args", *extra}``: a ``dtype`` argument names a float
        dtype, a ``{"class", "args"}`` one is built first, one left out takes its default
        (Keras' way). A layer is built only if its parameters, in its dtype, fit in the file:
        it allocates no more than the file holds before its arrays are checked."""
        self.obj(doc, where, ("class", "args"), optional=extra)
        cls = self.name(doc["class"], classes(*kind), f"{where}.class")
        kwargs = defaults(cls)
        required = [k for k, default in kwargs.items() if default is REQUIRED]
        for k, v in self.obj(doc["args"], f"{where}.args", required, kwargs).items():
            here = f"{where}.{k}" if flat else f"{where}.args.{k}"
            kwargs[k] = self.name(v, FLOAT_DTYPES, here) if k == "dtype" else \
                self.build(NESTED, v, here) if isinstance(v, dict) and set(v) == {"class", "args"} \
                else self.argument(v, here)
        try:
            shapes = cls.parameter_shapes_for(kwargs).values() \
                if callable(getattr(cls, "parameter_shapes_for", None)) else ()
            itemsize = np.dtype(kwargs.get("dtype") or np.float16).itemsize
            if sum(math.prod(s) for s in shapes) * itemsize > self.size:
                raise ValueError(f"expected parameters the file can hold, got "
                                 f"{short(list(shapes))}")
            return cls(**kwargs)
        except (TypeError, ValueError, AttributeError, KeyError) as err:
            self.fail(where, f"invalid arguments ({short(str(err), 300)})")

    def load_state(self, obj, state, where, method=None):
        """``obj.load_state_dict(state)`` (without one, only ``{}`` fits); its complaints name
        the place in the file."""
        method = method or getattr(type(obj), "load_state_dict", None)
        try:
            if method is not None:
                method(obj, state)
            elif state:
                raise ValueError(f"{type(obj).__name__}: expected an empty state, got "
                                 f"{sorted(state)}")
        except StateError as err:
            self.fail(f"{where}.{err.key}" if err.key else where, err.reason)
        except (TypeError, ValueError) as err:
            self.fail(where, f"invalid state ({short(str(err), 200)})")

    def array(self, reference, where, allowed, most=None, into=None):
        """The array member ``reference``, its header checked before its data is read: its
        ``(dtype, shape)`` one of ``allowed`` (a shape None: any; a length None: any), at most
        ``most`` values. The data goes into ``into``, the object's own array, where given."""
        self.check(reference, isinstance(reference, str) and reference not in self.used and
                   re.fullmatch(r"arrays/\d{1,9}\.npy", reference) and reference in
                   self.zf.NameToInfo, where, "a member 'arrays/<n>.npy', each referenced once")
        self.used.add(reference)
        where, size = f"{where}: {reference}", self.zf.getinfo(reference).file_size
        with self.zf.open(reference) as f:          # zipfile checks the CRC as the data ends
            shape, dtype = self._header(f, where)
            dtypes = list(dict.fromkeys(np.dtype(d) for d, _ in allowed))
            self.check(f"{dtype} {shape}", dtype in dtypes, where,
                       f"dtype {' or '.join(map(str, dtypes))}")
            shapes = [s for d, s in allowed if np.dtype(d) == dtype]
            if None not in shapes:
                self.check(shape, any(len(s) == len(shape) and all(
                    n in (None, m) for n, m in zip(s, shape)) for s in shapes), where,
                    " or ".join(f"shape of {len(s)} dimensions" if None in s else f"shape {s}"
                                for s in shapes))
            self.check(math.prod(shape), most is None or math.prod(shape) <= most, where,
                       f"at most {most} values")
            nbytes = math.prod(shape) * dtype.itemsize
            self.check(size - f.tell(), size - f.tell() == nbytes, where,
                       f"{nbytes} bytes of data for the shape {shape}")
            fill = isinstance(into, np.ndarray) and into.flags.owndata and \
                into.flags.writeable and into.flags.c_contiguous and \
                (into.dtype, into.shape) == (dtype, shape) and id(into) not in self.filled
            values = into if fill else np.empty(shape, dtype)
            self.filled[id(values)] = values            # kept alive: its id names it
            view = memoryview(values.reshape(-1)).cast("B")
            for at in range(0, nbytes, CHUNK):
                view[at:at + CHUNK] = f.read(min(CHUNK, nbytes - at))
            f.read(1)
        return self.check(values, np.isfinite(values).all(), where, "finite values")

    def _header(self, f, where):
        try:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            shape, fortran, dtype = read(f) if read else self.fail(
                where, f"unsupported .npy version {version}")
        except CheckpointError:
            raise
        except Exception as err:   # noqa: BLE001 - NumPy tokenizes a bad header: any error
            self.fail(where, f"not a valid .npy header ({short(str(err))})")
        return self.check("Fortran order", not fortran, where, "C order") and (tuple(shape), dtype)
