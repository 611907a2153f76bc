"""The reader: every check a file passes before anything is built from it.

It checks the size, the seal (SHA-256 over the bytes, streamed first, so that a
huge or sparse file costs no memory before it is refused), the archive's members
(stored, distinct, within the file, each referred to once), every JSON value
(types, ranges, unknown keys, no NaN, no deep nesting) and every array header
(dtype, C order, shape, and exactly the data bytes the shape needs) before the
array's data is read. Every problem becomes one ``CheckpointError`` naming the file
and the place in it.
"""
import hashlib
import io
import json
import math
import os
import re
import sys
import tokenize
import zipfile

import numpy as np

from .archive import DOCUMENT, SEAL
from .errors import CheckpointError, StateError
from .registry import FLOAT_DTYPES, NESTED, classes, constructor_args, defaults, load_state_of, required_args

MAX_FILE_BYTES = 4 << 30          # a checkpoint is read into memory whole
MAX_DOCUMENT_BYTES = 4 << 20      # a 13-layer CNN's is 6 KB; parsing costs ~25x the size
MAX_MEMBERS = 100_000
MAX_ITEMS = 100_000               # layers, history records, ... in one list
CHUNK = 1 << 20
MAX_STRING = 1000                 # a constructor argument's string (an activation's name)
MAX_ARGUMENT_ITEMS = 64           # of a list or object argument
MAX_ARGUMENT_DEPTH = 4


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def said(err, limit=200):
    """What an object's own check said, on one line and at most ``limit`` characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Reader:
    """Reads and checks one checkpoint; every problem becomes a ``CheckpointError``."""

    def __init__(self, filename, zf, data=None):
        self.filename, self.zf, self.data = filename, zf, data
        self.used = set()
        self.filled = {}

    short = staticmethod(_short)

    @staticmethod
    def key(name):
        """A key from the file as part of a place: as it is if short and plain, else cut."""
        return name if len(name) <= 40 and name.isprintable() else _short(name, 40)

    def fail(self, where, message):
        raise CheckpointError(f"{self.filename}: {where}: {message}")

    # JSON values --------------------------------------------------------------------

    def obj(self, value, where, keys, optional=()):
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_kind(value)}")
        missing = [k for k in keys if k not in value]
        unknown = [k for k in value if k not in keys and k not in optional]
        if missing or unknown:
            self.fail(where, f"expected the keys {sorted(keys)}, "
                             f"{'missing ' + str(missing) if missing else 'unknown ' + _short(unknown)}")
        return value

    def mapping(self, value, where):
        """A JSON object with any keys (checked by the caller), at most MAX_ITEMS of them."""
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            self.fail(where, f"expected an object, got {_kind(value)}")
        return value

    def list(self, value, where, length=None):
        if not isinstance(value, list):
            self.fail(where, f"expected a list, got {_kind(value)}")
        if len(value) > MAX_ITEMS or (length is not None and len(value) != length):
            self.fail(where, f"expected {length if length is not None else 'at most ' + str(MAX_ITEMS)} "
                             f"items, got {len(value)}")
        return value

    def int(self, value, where, low=0, high=2**63 - 1):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(where, f"expected an integer in [{low}, {high}], got {_short(value)}")
        return value

    def float(self, value, where, none=False):
        if none and value is None:
            return None
        # abs(value) <= max is false for NaN, inf and integers too large for a float.
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not abs(value) <= sys.float_info.max:
            self.fail(where, f"expected a finite number, got {_short(value)}")
        return float(value)

    def bool(self, value, where):
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_short(value)}")
        return value

    def name(self, value, registry, where):
        if not isinstance(value, str) or value not in registry:
            names = registry if registry is FLOAT_DTYPES else sorted(registry)
            self.fail(where, f"expected one of {', '.join(names)}, got {_short(value)}")
        return registry[value]

    def argument(self, value, where, depth=0):
        """A constructor argument: a number, boolean, null, string (at most
        ``MAX_STRING`` characters), or a list or object of such values (at most
        ``MAX_ARGUMENT_ITEMS`` items, ``MAX_ARGUMENT_DEPTH`` levels). A list is given to
        the constructor as a tuple (``stride_shape=(2, 2)``, ``betas=(0.9, 0.999)``)."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):        # no larger: a constructor would overflow converting it
            if -2**63 <= value < 2**63:
                return value
        elif isinstance(value, float):
            return self.float(value, where)
        elif isinstance(value, str):
            if len(value) <= MAX_STRING:
                return value
        elif isinstance(value, (list, dict)) and depth < MAX_ARGUMENT_DEPTH \
                and len(value) <= MAX_ARGUMENT_ITEMS:
            if isinstance(value, list):
                return tuple(self.argument(v, f"{where}[{i}]", depth + 1)
                             for i, v in enumerate(value))
            return {k: self.argument(v, f"{where}.{self.key(k)}", depth + 1)
                    for k, v in value.items()}
        self.fail(where, f"expected a number, boolean, null, a string of at most {MAX_STRING} "
                         f"characters, or a list or object of them (at most "
                         f"{MAX_ARGUMENT_ITEMS} items, integers within +-2**63), got "
                         f"{_short(value)}")

    def build(self, registry, doc, where, extra=()):
        """``(class, kwargs)`` of ``{"class", "args", *extra}``; the constructor validates later.

        ``registry`` is a kind (``"layer"``, ...) or a dict name -> class. An argument
        ``dtype`` names a float dtype; an argument that is itself ``{"class", "args"}``
        (an optimizer's regularizer) is built the same way first; any other is plain
        data (``argument``).
        """
        registry = classes(registry) if isinstance(registry, str) else registry
        self.obj(doc, where, ("class", "args"), optional=extra)
        cls = self.name(doc["class"], registry, f"{where}.class")
        # An argument with a default may be left out: the default fills in (Keras' way).
        args = self.obj(doc["args"], f"{where}.args", required_args(cls),
                        optional=constructor_args(cls))
        kwargs = {}
        for k, v in args.items():
            here = f"{where}.args.{k}"
            if k == "dtype":
                kwargs[k] = self.name(v, FLOAT_DTYPES, here)
            elif isinstance(v, dict) and set(v) == {"class", "args"}:
                kwargs[k] = self.construct(*self.build(self.nested, v, here), here)
            else:
                kwargs[k] = self.argument(v, here)
        return cls, {**defaults(cls), **kwargs}

    @property
    def nested(self):
        """The classes a config may hold as an argument (not networks, layers, optimizers)."""
        return {name: cls for kind in NESTED for name, cls in classes(kind).items()}

    def check_state(self, layer, state, where):
        """``layer.check_state(state)`` (a state kept for later, e.g. early stopping's best),
        where the layer has that method."""
        if callable(getattr(layer, "check_state", None)):
            self.load_state(layer, state, where, method="check_state")

    def load_state(self, obj, state, where, method="load_state_dict"):
        """``obj.load_state_dict(state)`` (``load_state_of``: an object without one takes only
        ``{}``); its complaints name the place in the file."""
        try:
            if method == "load_state_dict":
                load_state_of(obj, state)
            else:
                getattr(obj, method)(state)
        except StateError as err:
            self.fail(f"{where}.{err.key}" if err.key else where, err.reason)
        except (TypeError, ValueError) as err:
            self.fail(where, f"invalid state ({said(err)})")

    def construct(self, cls, kwargs, where):
        """``cls(**kwargs)``; a layer only if its parameters fit in the file (a layer nested
        in another's arguments allocates them before the outer layer's arrays are checked)."""
        try:
            shapes = cls.parameter_shapes_for(kwargs).values() \
                if callable(getattr(cls, "parameter_shapes_for", None)) else ()
        except (TypeError, ValueError, AttributeError) as err:
            self.fail(where, f"invalid arguments ({err})")
        if sum(math.prod(s) for s in shapes) * 2 > len(self.data or b""):
            self.fail(where, f"expected parameters the file can hold, got shapes "
                             f"{_short(list(shapes))}")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            self.fail(where, f"invalid arguments ({err})")

    # arrays -------------------------------------------------------------------------------

    def array(self, reference, where, dtype, shape=None, ndim=None, non_negative=False,
              most=None, later=False, view=False, shapes=None):
        """The array member ``reference``, its header checked before its data is read.

        ``shapes``, instead of ``dtype`` and ``shape``: the allowed ``(dtype, shape)`` pairs;
        neither (``dtype`` None): any float dtype, any shape (its size is the file's); a
        tuple of dtypes: any one of them.
        With ``later``, only the header is checked now and a function ``data(into=None)``
        that reads the data is returned (a layer is built in between). Given ``into``, an
        array of the layer's own of that dtype and shape, the data is read into it instead
        of a new array, so the layer's first draw does not stay beside the file's values.
        With ``view``, a read-only view of the file's bytes where possible (no copy), for
        values that are converted anyway (the loss history becomes a list).
        """
        found = self._header(reference, where, dtype, shape, ndim, most, shapes)

        def data(into=None):
            if not self._fillable(into, found):
                into = None
            values = self._values(*found, view=view, into=into)
            if values.dtype.kind == "f" and not np.isfinite(values).all():
                self.fail(where, f"{reference}: expected finite values, got NaN or inf")
            if non_negative and (values < 0).any():
                self.fail(where, f"{reference}: expected values >= 0 (a variance), "
                                 f"got negative ones")
            return values
        return data if later else data()

    def _fillable(self, into, found):
        """Whether the file's data may go into ``into``: an array of its own (no view of
        another), writeable, of the member's dtype and shape, not filled before (two
        names for one buffer would get one value)."""
        if not (isinstance(into, np.ndarray) and into.flags.owndata and into.flags.writeable
                and into.flags.c_contiguous
                and into.dtype == found[3] and into.shape == tuple(found[4])
                and id(into) not in self.filled):
            return False
        self.filled[id(into)] = into        # kept alive: the id is not reused meanwhile
        return True

    def _header(self, reference, where, dtype, shape, ndim, most, shapes=None):
        """``(member, data start, bytes, dtype, shape)`` of a checked .npy header."""
        if not isinstance(reference, str) or not re.fullmatch(r"arrays/\d{1,9}\.npy", reference):
            self.fail(where, f"expected an array reference 'arrays/<n>.npy', got {_short(reference)}")
        if reference in self.used:
            self.fail(where, f"{reference} is referenced twice")
        self.used.add(reference)
        try:
            info = self.zf.getinfo(reference)
        except KeyError:
            self.fail(where, f"the archive has no member {reference}")
        with self.zf.open(info) as f:
            try:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                header = None if read_header is None else read_header(f)
            # TokenError: NumPy tokenizes a header that does not parse (an unclosed bracket).
            except (ValueError, TypeError, SyntaxError, tokenize.TokenError, RecursionError,
                    MemoryError) as err:
                self.fail(where, f"{reference}: not a valid .npy header ({_short(str(err))})")
            if header is None:
                self.fail(where, f"{reference}: unsupported .npy version {version}")
            found_shape, fortran, found = header
            if shapes is not None:
                if (found, tuple(found_shape)) not in shapes:
                    self.fail(where, f"{reference}: expected one of the layer's arrays' dtypes "
                                     f"and shapes {_short(sorted((str(d), s) for d, s in shapes))}, "
                                     f"got {str(found)[:60]} {_short(found_shape)}")
                dtype = found
            elif isinstance(dtype, tuple):
                if found not in dtype:
                    self.fail(where, f"{reference}: expected dtype "
                                     f"{' or '.join(map(str, dtype))}, got {str(found)[:60]}")
                dtype = found
            elif dtype is None:
                if found.name not in FLOAT_DTYPES:
                    self.fail(where, f"{reference}: expected a float dtype "
                                     f"({', '.join(FLOAT_DTYPES)}), got {str(found)[:60]}")
                dtype = FLOAT_DTYPES[found.name]      # native byte order, checked below
            expected = np.dtype(dtype)
            if found != expected or found.hasobject:
                self.fail(where, f"{reference}: expected dtype {expected}, got {str(found)[:60]}")
            if fortran:
                self.fail(where, f"{reference}: expected C order")
            if (shape is not None and tuple(found_shape) != tuple(shape)) or \
                    (ndim is not None and len(found_shape) != ndim):
                self.fail(where, f"{reference}: expected shape "
                                 f"{tuple(shape) if shape is not None else f'of {ndim} dimensions'}, "
                                 f"got {_short(found_shape)}")
            if most is not None and math.prod(found_shape) > most:
                self.fail(where, f"{reference}: expected at most {most} values, got "
                                 f"{math.prod(found_shape)}")
            nbytes = math.prod(found_shape) * expected.itemsize
            if info.file_size - f.tell() != nbytes:
                self.fail(where, f"{reference}: shape {found_shape} needs {nbytes} bytes of data, "
                                 f"the member has {info.file_size - f.tell()}")
            return info, f.tell(), nbytes, expected, found_shape

    def _values(self, info, start, nbytes, dtype, shape, view=False, into=None):
        """The array's data, copied once (into ``into`` when given): straight from the
        file's bytes when the member's place in them is known (members are stored), else
        read from the member."""
        if self.data is not None:
            local = memoryview(self.data)[info.header_offset:info.header_offset + 30]
            if len(local) == 30 and bytes(local[:4]) == b"PK\x03\x04":
                offset = info.header_offset + 30 + int.from_bytes(local[26:28], "little") \
                    + int.from_bytes(local[28:30], "little") + start
                if offset + nbytes <= len(self.data):
                    raw = memoryview(self.data)[offset:offset + nbytes]
                    values = np.frombuffer(raw, dtype).reshape(shape)
                    if into is not None:
                        np.copyto(into, values)
                        return into
                    return values if view else values.copy()
        values = np.empty(shape, dtype) if into is None else into
        with self.zf.open(info) as f:
            f.seek(start)
            if f.readinto(memoryview(values.reshape(-1)).cast("B")) != nbytes:
                self.fail("archive", f"{info.filename}: truncated data")
        return values


def json_value(value):
    """``value`` as JSON would give it back (tuples become lists)."""
    return json.loads(json.dumps(value))


def _kind(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in an object: {sorted(keys)}")
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def read_bytes(filename):
    """The file's bytes, after its size and seal were checked without holding it in memory.

    A first pass hashes the file in chunks: a file that is too large, or not sealed
    (a sparse gigabyte of zeros, say), is refused before it is read into memory. The
    second pass reads exactly the size counted and checks the seal again on those
    bytes, so a file that changed in between is refused too.
    """
    # O_NONBLOCK: opening a named pipe (which a tar archive can hold) does not wait for a
    # writer; like a device, it has size 0 and is refused below.
    with open(os.open(filename, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(f"{filename}: {size} bytes, more than a checkpoint may have "
                                  f"({MAX_FILE_BYTES})")
        head = f.read(min(8, size))
        _check_start(filename, head)
        if size < 22 + len(SEAL) + 64:
            _unsealed(filename)
        digest, left = hashlib.sha256(head), size - 64 - len(head)
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        tail = f.read(64)
        _check_seal(filename, digest, tail, size, f)
        f.seek(0)
        data = f.read(size)           # bytes: io.BytesIO shares them without a copy
        if len(data) != size:
            raise CheckpointError(f"{filename}: the file changed while it was read")
    _check_seal(filename, hashlib.sha256(memoryview(data)[:-64]), data[-64:], size, None)
    return data


def _check_start(filename, head):
    if head[:4] != b"PK\x03\x04":
        if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"cc"):
            raise CheckpointError(
                f"{filename}: this is a pickle (the format of older versions). Loading a pickle "
                f"can run any code, so it is refused. If you trust the file and who sent it, "
                f"convert it once with: .venv/bin/python ConvertCheckpoint.py {filename} NEW.ckpt")
        raise CheckpointError(f"{filename}: not a checkpoint (expected a zip archive starting "
                              f"with PK, got {head!r})")


def _unsealed(filename):
    raise CheckpointError(f"{filename}: truncated or not sealed (the zip comment must end "
                          f"the file with sha256:<digest>)")


def _check_seal(filename, digest, tail, size, f):
    """``tail`` (the last 64 bytes) must be the hex digest; the seal's prefix precedes it."""
    if f is not None:
        f.seek(size - 64 - len(SEAL))
        prefix = f.read(len(SEAL))
    else:
        prefix = None
    if (prefix is not None and prefix != SEAL) or len(tail) != 64:
        _unsealed(filename)
    if digest.hexdigest().encode() != tail:
        raise CheckpointError(f"{filename}: checksum mismatch: the file was changed or damaged "
                              f"after it was saved")


def open_archive(filename, data):
    """Check the members of sealed ``data``; return the open archive and its document."""
    view = memoryview(data)
    if view[-64 - len(SEAL):-64] != SEAL:
        _unsealed(filename)
    # zipfile builds an object for every central directory entry (each starts with PK\1\2)
    # before the count below is checked: a file of tiny entries could exhaust the memory.
    if data.count(b"PK\x01\x02") > MAX_MEMBERS:
        raise CheckpointError(f"{filename}: expected at most {MAX_MEMBERS} members")
    zf = zipfile.ZipFile(io.BytesIO(data))
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(infos) > MAX_MEMBERS or len(set(names)) != len(names):
        raise CheckpointError(f"{filename}: expected at most {MAX_MEMBERS} distinct members, "
                              f"got {len(infos)} ({len(set(names))} distinct)")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size \
                or info.header_offset + info.compress_size > len(data) or info.flag_bits & 1:
            raise CheckpointError(f"{filename}: member {_short(info.filename)} is compressed, "
                                  f"encrypted or larger than the file")
    if sum(i.file_size for i in infos) > len(data):
        raise CheckpointError(f"{filename}: the members claim more bytes than the file has")
    if DOCUMENT not in names:
        raise CheckpointError(f"{filename}: no {DOCUMENT} in the archive")
    info = zf.getinfo(DOCUMENT)
    if info.file_size > MAX_DOCUMENT_BYTES:
        raise CheckpointError(f"{filename}: {DOCUMENT} is {info.file_size} bytes, more than "
                              f"{MAX_DOCUMENT_BYTES}")
    try:
        doc = json.loads(zf.read(DOCUMENT).decode("utf-8"), parse_constant=_reject_constant,
                         object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise CheckpointError(f"{filename}: {DOCUMENT} is nested too deep") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{filename}: {DOCUMENT} is not valid JSON ({_short(str(err))})") \
            from None
    return zf, doc


