"""Data/idx.py's memory bounds: a header is checked against what the file can hold before
anything large is allocated or decompressed, and a file is read in about its own size."""
import gzip
import tracemalloc

import numpy as np
import pytest

from Data.idx import IDXError, read_idx, write_idx

MB = 1 << 20


def header(code, shape):
    return bytes([0, 0, code, len(shape)]) + np.asarray(shape, ">u4").tobytes()


def peak_bytes(call):
    """The most memory Python and NumPy held at once during ``call()`` (beyond before it)."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def refused(path, match):
    def call():
        with pytest.raises(IDXError, match=match):
            read_idx(path)
    return call


def test_a_gzip_bomb_is_refused_before_it_is_decompressed(tmp_path):
    # The attack of issue 20: ~400 KB of gzip that declares and really holds 510,000
    # images (400 MB of zeros), made here of 1 MB gzip members, which gzip concatenates.
    path = tmp_path / "train-images-idx3-ubyte.gz"
    zeros = gzip.compress(bytes(MB), 9)
    with open(path, "wb") as f:
        f.write(gzip.compress(header(0x08, (510_000, 28, 28)), 9))
        for _ in range(510_000 * 784 // MB + 1):
            f.write(zeros)
    assert path.stat().st_size < 600_000
    assert peak_bytes(refused(path, r"need 399840000 bytes of data, more than an IDX file may "
                                    r"hold here")) < 2 * MB


@pytest.mark.parametrize("gzipped", [True, False], ids=["gzip", "raw"])
def test_a_header_that_promises_more_than_the_file_holds_allocates_nothing(tmp_path, gzipped):
    data = header(0x08, (100_000, 28, 28)) + bytes(1000)            # 78 MB promised
    path = tmp_path / ("a.gz" if gzipped else "a")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    match = r"more than \d+ gzipped bytes can hold" if gzipped else r"\(truncated\)"
    assert peak_bytes(refused(path, match)) < 2 * MB


@pytest.mark.parametrize("dtype, name", [(np.uint8, "a.gz"), (np.float32, "a")],
                         ids=["uint8-gzip", "float32-raw"])
def test_a_file_is_read_in_about_its_own_size(tmp_path, dtype, name):
    array = np.random.default_rng(0).integers(0, 200, (10_000 // dtype().itemsize, 28, 28))
    array = array.astype(dtype)                                 # 7.8 MB either way
    write_idx(tmp_path / name, array)
    result = []
    peak = peak_bytes(lambda: result.append(read_idx(tmp_path / name)))
    np.testing.assert_array_equal(result[0], array)
    assert result[0].dtype == array.dtype and result[0].dtype.isnative
    assert peak < array.nbytes + 2 * MB                      # not a second copy of the data
