"""IDX files (the MNIST container format), read and written with NumPy only.

Layout (all integers big-endian)::

    bytes 0-1   0x00 0x00                  magic
    byte  2     type code                  0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
    byte  3     ndims                      number of dimensions (>= 1)
    4*ndims     uint32 sizes               one per dimension
    payload     prod(sizes) * itemsize     row-major, big-endian values

A file may be gzip-compressed; that is decided by its first two bytes
(``1f 8b``), never by its name. Every problem raises :class:`DataError` naming
the file and what is wrong with it; nothing is ever unpickled.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

from .. import io
from ..errors import DataError
from ..io import GZIP_MAGIC, atomic_write

#: IDX type code -> big-endian dtype of the stored values.
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("=").str: code for code, dt in DTYPES.items()}


def read_bytes(path: str | os.PathLike, what: str = "data") -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic ``1f 8b``:
    only as far as the IDX header says the file goes (plus up to 1 MiB, to measure
    trailing garbage), so a gzip bomb costs no more than the header declares,
    and never more than certnn's file-size cap (:mod:`certnn.io`)."""
    raw = io.read_bytes(path, "IDX file", DataError, gunzip_data=False)
    if raw[:2] != GZIP_MAGIC:
        return raw
    head = io.gunzip(raw, str(path), "IDX file", DataError, limit=4 + 4 * 255, partial=True)
    size = _declared_size(head)
    if size is None:             # a bad header: parse_idx says what is wrong with it
        return head
    if size > io.max_bytes():
        raise DataError(f"{path}: the IDX header declares {size} bytes, more than the limit of {io.max_bytes()} "
                        f"(set CERTNN_MAX_FILE_BYTES to raise it)")
    # up to 1 MiB past the declared end, so that parse_idx can say how much garbage trails
    return io.gunzip(raw, str(path), "IDX file", DataError, limit=size + (1 << 20), partial=True)


def _declared_size(head: bytes) -> int | None:
    """Header plus payload bytes an IDX header declares (None when the header is bad:
    parse_idx says why)."""
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in DTYPES or head[3] == 0 or len(head) < 4 + 4 * head[3]:
        return None
    dims = np.frombuffer(head, ">u4", count=head[3], offset=4)
    return 4 + 4 * head[3] + math.prod(int(d) for d in dims) * DTYPES[head[2]].itemsize


def parse_idx(buf: bytes, name: str = "<bytes>", what: str = "data") -> np.ndarray:
    """Decode IDX bytes into a native-endian, writable array.

    ``name`` is used in error messages; ``what`` names the payload there
    (e.g. ``"pixel data"``).
    """
    if len(buf) < 4:
        raise DataError(f"{name}: truncated: {len(buf)} bytes, too short for an IDX header")
    if buf[0] != 0 or buf[1] != 0 or buf[2] not in DTYPES or buf[3] == 0:
        problem = ("bad magic" if buf[0] or buf[1] else
                   "unknown IDX type code" if buf[2] not in DTYPES else "zero dimensions in")
        raise DataError(f"{name}: {problem} 0x{bytes(buf[:4]).hex()} (expected 0x0000, a type code in "
                        f"{{{', '.join(f'0x{c:02X}' for c in DTYPES)}}} and ndims >= 1)")
    dtype, ndims = DTYPES[buf[2]], buf[3]
    header = 4 + 4 * ndims
    if len(buf) < header:
        raise DataError(f"{name}: truncated header: {ndims} dims need {header} bytes, found {len(buf)}")
    shape = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndims, offset=4))
    expected = math.prod(shape) * dtype.itemsize     # Python ints: no wrap-around
    found = len(buf) - header
    if found < expected:
        raise DataError(f"{name}: truncated: expected {expected} bytes of {what} for shape {shape}, "
                        f"found {found}")
    if found > expected:
        raise DataError(f"{name}: trailing garbage: expected {expected} bytes of {what} for shape "
                        f"{shape}, found {found} ({found - expected} extra; wrong dims?)")
    arr = np.frombuffer(buf, dtype, count=expected // dtype.itemsize, offset=header)
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def read_idx(path: str | os.PathLike, what: str = "data") -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a native-endian NumPy array."""
    return parse_idx(read_bytes(path, what), str(path), what)


def encode_idx(array) -> bytes:
    """The IDX bytes of ``array`` (dtype u8, i8, i16, i32, f32 or f64; 1-255 dims)."""
    arr = np.asarray(array)
    code = _CODES.get(arr.dtype.newbyteorder("=").str)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}; use one of "
                         f"{sorted(str(d.newbyteorder('=')) for d in DTYPES.values())}")
    if not 1 <= arr.ndim <= 255 or any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"IDX cannot store shape {arr.shape} (1-255 dims, each < 2**32)")
    head = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return head + np.ascontiguousarray(arr, DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically.

    ``compress=None`` gzips when the name ends in ``.gz``; the gzip header
    carries no timestamp, so equal arrays give equal files.
    """
    path = Path(path)
    data = encode_idx(array)
    if compress if compress is not None else path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with atomic_write(path, "wb") as f:
        f.write(data)
    return path
