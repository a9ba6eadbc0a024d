"""Files at certnn's boundary. Every file a command reads from the user's disk
and every file it writes goes through here, so that every command refuses the
same hostile or broken files with the same one-line errors (docs/files.md).

Reading (:func:`read_bytes`, :func:`read_text`, :func:`load_json`,
:func:`read_npy`, :func:`read_npz`):

* only regular files: a folder, a FIFO (which would block forever) or a device
  such as ``/dev/zero`` (which never ends) is refused before a byte is read;
* at most :func:`max_bytes` bytes (``$CERTNN_MAX_FILE_BYTES``, default 1 GiB),
  and gzip data is decompressed in bounded steps up to the same cap, so a
  small "bomb" costs no more than the cap;
* ``.npy``/``.npz`` arrays: the header's dtype and shape are checked (no
  object/pickled data; the declared size equals the stored size and fits
  the cap; for ``.npz``, also the manifest the document records) before any
  memory is allocated for the data;
* JSON: ``NaN``/``Infinity`` literals, numbers that overflow float64,
  integers of more than :data:`MAX_INT_DIGITS` digits and nesting deeper than
  :data:`MAX_JSON_DEPTH` are refused; the document is then validated once
  against the format's schema (jsonschema), so a wrong type names its field;
* a file a document refers to (``weights.file``, ``array_file``, BaB leaves)
  must lie in the document's own folder (:func:`confined`).

Writing (:func:`atomic_write`, :func:`output_file`, :func:`output_folder`):
temp file in the same folder, fsync, rename, so an interrupted run never
leaves a half-written file; a symlink is written through (its target is
replaced, the link kept); an existing folder where a file is expected (or the
reverse), a location that cannot be written and two outputs naming the same
file are refused before any work is done; new files get the mode the umask
gives (0666 & ~umask), a replaced file keeps its mode.

Roots (:func:`data_root`, :func:`benchmarks_root`, :func:`relative_to_roots`):
``$CERTNN_DATA`` / ``$CERTNN_BENCHMARKS``, else ``../shared/data`` and
``../shared/benchmarks`` relative to the project root; results record paths
relative to them, never one machine's absolute paths.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import CertnnError

GZIP_MAGIC = b"\x1f\x8b"
NPY_MAGIC = b"\x93NUMPY"
MAX_JSON_DEPTH = 100
MAX_INT_DIGITS = 100
_CHUNK = 1 << 20


class FileError(CertnnError):
    """A file cannot be read or written as asked (names the file and the problem)."""


def max_bytes() -> int:
    """The largest file (or decompressed content, or array) certnn reads:
    ``$CERTNN_MAX_FILE_BYTES`` (an integer), default 1 GiB."""
    v = os.environ.get("CERTNN_MAX_FILE_BYTES", "")
    try:
        return int(v) if v else 1 << 30
    except ValueError:
        raise FileError(f"$CERTNN_MAX_FILE_BYTES must be an integer number of bytes, got {v!r}") from None


def _size_text(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


# ------------------------------------------------------------------------------- reading

@contextmanager
def open_input(path, what: str = "file", error: type[CertnnError] = FileError, limit: int | None = None):
    """``with open_input(p) as (f, size)``: a binary file object on a regular file of
    at most ``limit`` bytes. Opening never blocks (a FIFO is opened non-blocking,
    then refused)."""
    limit = max_bytes() if limit is None else limit
    p = str(path)
    if p == "":
        raise error(f"empty path given for the {what}")
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{p}: no such {what} (the file is missing)") from None
    except OSError as e:
        raise error(f"{p}: cannot open the {what} ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise error(f"{p}: the {what} is {kind}, not a regular file")
        if st.st_size > limit:
            raise error(f"{p}: the {what} has {_size_text(st.st_size)}, more than the limit of "
                        f"{_size_text(limit)} (set CERTNN_MAX_FILE_BYTES to raise it)")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f, st.st_size


def read_bytes(path, what: str = "file", error: type[CertnnError] = FileError, limit: int | None = None,
               gunzip_data: bool = True) -> bytes:
    """The content of a regular file, gunzipped (with the same cap) when it starts
    with the gzip magic ``1f 8b`` and ``gunzip_data``."""
    limit = max_bytes() if limit is None else limit
    with open_input(path, what, error, limit) as (f, size):
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise error(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    if len(data) > limit:   # it grew while being read
        raise error(f"{path}: the {what} has more than the limit of {_size_text(limit)}")
    if gunzip_data and data[:2] == GZIP_MAGIC:
        data = gunzip(data, f"{path}", what, error, limit)
    return data


def gunzip(data: bytes, name: str = "<bytes>", what: str = "file", error: type[CertnnError] = FileError,
           limit: int | None = None, partial: bool = False) -> bytes:
    """Decompress gzip ``data`` (several members allowed). More than ``limit`` bytes
    of output is an error; with ``partial`` the first ``limit + 1`` bytes are returned
    instead (to read a header, or to tell that more follows). The size is measured
    first without keeping the output, so a bomb costs one bounded chunk of memory."""
    limit = max_bytes() if limit is None else limit
    if not partial and _inflate(data, name, what, error, limit, keep=False) > limit:
        raise error(f"{name}: the gzip data of the {what} decompress to more than the limit of "
                    f"{_size_text(limit)} (set CERTNN_MAX_FILE_BYTES to raise it)")
    return _inflate(data, name, what, error, limit, keep=True)


def _inflate(data: bytes, name, what, error, limit: int, keep: bool):
    """The first ``limit + 1`` bytes of gzip ``data`` (``keep``), or how many there are."""
    out, total, rest = [], 0, data
    try:
        while rest and total <= limit:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            buf = rest
            while total <= limit and not d.eof:
                if buf:
                    chunk = d.decompress(buf, min(_CHUNK * 16, limit + 1 - total))
                    buf = d.unconsumed_tail
                else:             # input used up: what zlib still holds (< one window), then the end
                    chunk = d.flush()
                    if not d.eof:
                        raise EOFError("compressed data end before the end-of-stream marker")
                total += len(chunk)
                if keep:
                    out.append(chunk)
            rest = d.unused_data.lstrip(b"\x00")
    except (zlib.error, EOFError) as e:
        raise error(f"{name}: corrupt or truncated gzip data in the {what} ({e})") from None
    return b"".join(out)[:limit + 1] if keep else total


def read_text(path, what: str = "file", error: type[CertnnError] = FileError, limit: int | None = None) -> str:
    """A UTF-8 text file (gzip allowed; a leading byte-order mark is dropped)."""
    data = read_bytes(path, what, error, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"{path}: the {what} is not UTF-8 text (bad byte 0x{data[e.start]:02x} at offset "
                    f"{e.start}); a binary file?") from None


def sha256_file(path, what: str = "file", error: type[CertnnError] = FileError,
                limit: int | None = None) -> tuple[str, int]:
    """(hex SHA-256, size) of a regular file, read in bounded chunks."""
    h = hashlib.sha256()
    with open_input(path, what, error, limit) as (f, size):
        n = 0
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def confined(folder, name, field: str, source, error: type[CertnnError] = FileError) -> Path:
    """``folder / name`` for a file name a document records (``field``), refused
    unless it is a plain relative path inside ``folder`` (no ``..``, not absolute):
    a document may only refer to files in its own folder."""
    if not isinstance(name, str) or not name:
        raise error(f"{source}: field '{field}' must be a file name, got {name!r}")
    p = Path(name)
    if p.is_absolute() or ".." in p.parts or name.startswith("~") or "\\" in name:
        raise error(f"{source}: field '{field}' ({name!r}) must name a file in the document's own folder "
                    f"(no absolute path, no '..')")
    return Path(folder) / p


# ------------------------------------------------------------------------------- JSON

class _JsonValue(ValueError):
    pass


def _constant(name):
    raise _JsonValue(f"the literal {name} is not a number certnn reads (NaN and infinities are refused)")


def _parse_int(s: str):
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise _JsonValue(f"an integer with {len(s.lstrip('-'))} digits (more than {MAX_INT_DIGITS})")
    return int(s)


def _parse_float(s: str):
    v = float(s)
    if not math.isfinite(v):
        raise _JsonValue(f"the number {s[:40]}{'...' if len(s) > 40 else ''} overflows float64")
    return v


def json_depth(doc) -> int:
    """How deep ``doc`` nests (iterative: safe on any depth)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((x, d + 1) for x in v)
    return deepest


def parse_json(text: str, source, what: str = "JSON document", error: type[CertnnError] = FileError):
    """``json.loads`` with certnn's rules (the module doc): errors name ``source``."""
    try:
        doc = json.loads(text, parse_constant=_constant, parse_int=_parse_int,
                         parse_float=_parse_float)
    except json.JSONDecodeError as e:
        raise error(f"{source}: the {what} is not valid JSON ({e}); truncated or corrupt?") from None
    except _JsonValue as e:
        raise error(f"{source}: the {what} is refused: {e}") from None
    except RecursionError:
        raise error(f"{source}: the {what} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as e:      # e.g. Python's own integer-size limit
        raise error(f"{source}: the {what} is refused ({e})") from None
    if json_depth(doc) > MAX_JSON_DEPTH:
        raise error(f"{source}: the {what} nests deeper than {MAX_JSON_DEPTH} levels")
    return doc


_VALIDATORS: dict = {}


def validate_json(doc, schema: dict, source, what: str = "JSON document",
                  error: type[CertnnError] = FileError) -> None:
    """Raise ``error`` naming the first field of ``doc`` that ``schema`` refuses."""
    import jsonschema
    v = _VALIDATORS.get(id(schema))
    if v is None:
        v = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft202012Validator(schema))
    e = jsonschema.exceptions.best_match(v[1].iter_errors(doc))
    if e is None:
        return
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path).lstrip(".")
    raise error(f"{source}: the {what} is malformed: "
                + (f"field '{where}' " if where else "") + _schema_message(e))


_JSON_TYPE = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
              float: "a number", type(None): "null"}


def _schema_message(e) -> str:
    if e.validator == "type":
        want = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        return f"must be {' or '.join(want)}, not {_JSON_TYPE.get(type(e.instance), type(e.instance).__name__)}"
    if e.validator == "enum":
        return f"must be one of {', '.join(json.dumps(x) for x in e.validator_value)}"
    msg = e.message
    return msg if len(msg) <= 160 else msg[:150] + " ..."


def load_json(path, what: str = "JSON document", schema: dict | None = None,
              error: type[CertnnError] = FileError, limit: int | None = None):
    """Read, parse and (when ``schema`` is given) validate a JSON document."""
    doc = parse_json(read_text(path, what, error, limit), path, what, error)
    if schema is not None:
        validate_json(doc, schema, path, what, error)
    return doc


# ------------------------------------------------------------------------------- arrays

def _npy_header(f, name: str, what: str, error) -> tuple[np.dtype, tuple, bool]:
    """(dtype, shape, fortran_order) from a .npy header, refusing pickled data."""
    try:
        magic = f.read(len(NPY_MAGIC))
        if magic != NPY_MAGIC:
            raise error(f"{name}: the {what} is not a NumPy .npy array (it starts with {magic[:6]!r})")
        version = tuple(f.read(2))
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise error(f"{name}: .npy format version {version} is not supported in the {what}")
    except CertnnError:
        raise
    except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile, zlib.error) as e:
        raise error(f"{name}: corrupt .npy header in the {what} ({e})") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.names is not None:
        raise error(f"{name}: array of dtype {dtype} in the {what}: only real numbers (bool, int, float) "
                    f"are read; complex, text and object (pickled) data are refused")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise error(f"{name}: array shape {shape} in the {what} is invalid")
    return dtype, tuple(shape), bool(fortran)


def _npy_body(f, dtype, shape, fortran, name, what, error) -> np.ndarray:
    count = math.prod(shape)
    a = np.empty(count, dtype)
    view = memoryview(a).cast("B") if a.nbytes else memoryview(b"")
    got = 0
    try:
        while got < a.nbytes:
            n = f.readinto(view[got:])
            if not n:
                break
            got += n
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise error(f"{name}: corrupt array data in the {what} ({e})") from None
    if got != a.nbytes:
        raise error(f"{name}: truncated array data in the {what} ({got} of {a.nbytes} bytes)")
    return a.reshape(shape, order="F" if fortran else "C")


def _check_nbytes(dtype, shape, stored: int, name, what, error, limit) -> None:
    """The declared size fits the cap and equals the ``stored`` bytes."""
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > limit:
        raise error(f"{name}: array of shape {shape} ({_size_text(nbytes)}) in the {what} exceeds the limit of "
                    f"{_size_text(limit)}")
    if nbytes != stored:
        raise error(f"{name}: array header declares shape {shape} ({nbytes} bytes of {dtype}) but "
                    f"{stored} bytes are stored in the {what}; truncated or corrupt?")


def read_npy(path, what: str = ".npy array", error: type[CertnnError] = FileError,
             limit: int | None = None) -> np.ndarray:
    """A ``.npy`` file (never unpickled; dtype, shape and size checked first)."""
    limit = max_bytes() if limit is None else limit
    with open_input(path, what, error, limit) as (f, size):
        head = f.peek(2)[:2]
        if head in (GZIP_MAGIC, b"PK"):
            raise error(f"{path}: the {what} is a {'gzip' if head == GZIP_MAGIC else 'zip (.npz)'} file, "
                        f"not a plain .npy array")
        dtype, shape, fortran = _npy_header(f, str(path), what, error)
        _check_nbytes(dtype, shape, size - f.tell(), path, what, error, limit)
        return _npy_body(f, dtype, shape, fortran, str(path), what, error)


def read_npz(path, what: str = "array file", error: type[CertnnError] = FileError,
             manifest: dict | None = None, limit: int | None = None, partial: bool = False) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file. Every member's header is read first: plain
    numbers only, the declared size equal to the stored size, the sum within the cap
    and, with a ``manifest`` ({name: {"dtype", "shape", ...}}), exactly the listed
    names with the listed dtypes and shapes (``partial``: the listed ones that are
    present; others allowed). Only then is data decompressed."""
    limit = max_bytes() if limit is None else limit
    with open_input(path, what, error, limit) as (f, size):
        try:
            z = zipfile.ZipFile(f)
            infos = z.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
            raise error(f"{path}: the {what} is not a valid .npz file ({e}); truncated or corrupt?") from None
        names = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.is_dir():
                raise error(f"{path}: member {info.filename!r} of the {what} is not a .npy array")
            names[info.filename[:-4]] = info
        if len(names) != len(infos):
            raise error(f"{path}: the {what} lists an array twice")
        if manifest is not None and not partial:
            missing = sorted(set(manifest) - set(names))
            extra = sorted(set(names) - set(manifest))
            if missing:
                raise error(f"{path}: array '{missing[0]}' is missing from the {what}")
            if extra:
                raise error(f"{path}: the {what} holds arrays the document does not list: {extra}")
        total = sum(i.file_size for i in infos)
        if total > limit:
            raise error(f"{path}: the arrays of the {what} decompress to {_size_text(total)}, more than the "
                        f"limit of {_size_text(limit)}")
        heads = {}
        for key, info in names.items():
            where = f"{path}[{key}]"
            try:
                with z.open(info) as m:
                    dtype, shape, fortran = _npy_header(m, where, what, error)
                    header_len = m.tell()
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as e:
                raise error(f"{where}: cannot read the {what} ({e}); truncated or corrupt?") from None
            _check_nbytes(dtype, shape, info.file_size - header_len, where, what, error, limit)
            if manifest is not None and key in manifest:
                _match_manifest(manifest[key], dtype, shape, where, what, error)
            heads[key] = (dtype, shape, fortran)
        out = {}
        for key, info in names.items():
            where = f"{path}[{key}]"
            try:
                with z.open(info) as m:
                    _npy_header(m, where, what, error)
                    out[key] = _npy_body(m, *heads[key], where, what, error)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise error(f"{where}: cannot read the {what} ({e}); truncated or corrupt?") from None
        return out


def _match_manifest(meta, dtype, shape, where, what, error) -> None:
    try:
        want_dtype = np.dtype(meta["dtype"]) if "dtype" in meta else dtype
        want_shape = tuple(meta["shape"]) if "shape" in meta else shape
    except (TypeError, ValueError, KeyError):
        raise error(f"{where}: the document's manifest entry is malformed: {str(meta)[:80]}") from None
    if want_dtype != dtype or want_shape != shape:
        raise error(f"{where}: array is {dtype} {shape} but the document records {want_dtype} {want_shape} "
                    f"(corrupt or modified)")


# ------------------------------------------------------------------------------- writing

def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def _target(path: Path) -> Path:
    """Where writing ``path`` lands: a symlink is written through (its target
    replaced, the link kept)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """``with atomic_write(p, "w") as f: ...`` writes ``p`` all at once or not at all."""
    if str(path) == "":
        raise FileError("empty output path")
    path = _target(Path(path))
    if path.is_dir():
        raise FileError(f"{path}: is a folder; give a file name to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise FileError(f"{path}: cannot write here ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            keep = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            keep = 0o666 & ~_umask()
        os.chmod(tmp, keep)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not isinstance(e, CertnnError):
            raise FileError(f"{path}: cannot write ({e.strerror or e})") from None
        raise


def write_npz(path, arrays: dict) -> bytes:
    """``arrays`` as an uncompressed ``.npz`` at ``path``, written atomically (built in
    memory first). Returns the file's bytes (for a digest of the whole file)."""
    import io as _io
    buf = _io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    with atomic_write(path) as f:
        f.write(data)
    return data


def write_json(path, doc, allow_nan: bool = False) -> None:
    """``doc`` as indented JSON at ``path``, written atomically (no NaN/Infinity
    literals unless ``allow_nan``)."""
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=allow_nan)


def _probe(folder: Path, what: str) -> None:
    """Refuse a folder certnn cannot create files in (tried, not guessed: root
    ignores permission bits, a read-only mount does not)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".certnn-probe.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise FileError(f"{folder}: cannot write the {what} here ({e.strerror or e})") from None


def _existing_ancestor(p: Path) -> Path:
    p = p.absolute()
    while not p.exists():
        if p.is_symlink():
            raise FileError(f"{p}: a dangling symlink in the output path")
        p = p.parent
    return p


def output_file(path, what: str = "output file", others=()) -> Path:
    """Check an output file location before any work is done: not empty, not a
    folder, not the same file as any of ``others`` (the command's other outputs
    and its inputs), in a folder that exists or can be made and can be written."""
    if path is None or str(path) == "":
        raise FileError(f"empty path given for the {what}")
    p = _target(Path(path))
    if p.is_dir():
        raise FileError(f"{path}: the {what} is a folder; give a file name")
    for o in others:
        if o is not None and str(o) != "" and os.path.realpath(_target(Path(o))) == os.path.realpath(p):
            raise FileError(f"{path}: the {what} is the same file as {o}, which the command also uses")
    anc = _existing_ancestor(p.parent)
    if not anc.is_dir():
        raise FileError(f"{path}: cannot write the {what}: {anc} is not a folder")
    _probe(anc, what)
    return p


def output_folder(path, what: str = "output folder") -> Path:
    """Check an output folder location before any work is done: not empty, not an
    existing file, inside a folder that can be written (nothing is created yet)."""
    if path is None or str(path) == "":
        raise FileError(f"empty path given for the {what}")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise FileError(f"{path}: the {what} exists and is not a folder")
    anc = _existing_ancestor(p)
    if not anc.is_dir():
        raise FileError(f"{path}: cannot make the {what}: {anc} is not a folder")
    _probe(anc, what)
    return p


# ------------------------------------------------------------------------------- roots

def project_root() -> Path:
    """The folder holding the ``certnn`` package (the repository root in a checkout)."""
    return Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """``$CERTNN_DATA``, else ``../shared/data`` relative to the project root."""
    env = os.environ.get("CERTNN_DATA")
    return Path(env) if env else project_root().parent / "shared" / "data"


def benchmarks_root() -> Path:
    """``$CERTNN_BENCHMARKS``, else ``../shared/benchmarks`` relative to the project root."""
    env = os.environ.get("CERTNN_BENCHMARKS")
    return Path(env) if env else project_root().parent / "shared" / "benchmarks"


def relative_to_roots(path) -> str:
    """``path`` as results record it: ``$CERTNN_BENCHMARKS/...``, ``$CERTNN_DATA/...``,
    or relative to the project root; else as given when it is relative, else its name."""
    p = Path(os.path.abspath(path))
    for var, root in (("CERTNN_BENCHMARKS", benchmarks_root()), ("CERTNN_DATA", data_root())):
        try:
            return f"${var}/" + p.relative_to(Path(os.path.abspath(root))).as_posix()
        except ValueError:
            pass
    try:
        return p.relative_to(project_root()).as_posix()
    except ValueError:
        return Path(path).as_posix() if not Path(path).is_absolute() else p.name


def portable(doc):
    """``doc`` (JSON-like) with every path in it made machine-independent for a
    committed result: the data and benchmark roots become ``$CERTNN_DATA`` /
    ``$CERTNN_BENCHMARKS``, the project root is dropped (inside messages too), and a
    string that is any other absolute path keeps only its name."""
    if isinstance(doc, dict):
        return {k: portable(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [portable(v) for v in doc]
    if not isinstance(doc, str) or "/" not in doc:
        return doc
    if os.path.isabs(doc) and "\n" not in doc and " " not in doc.strip():
        return relative_to_roots(doc)
    for var, root in (("$CERTNN_BENCHMARKS", benchmarks_root()), ("$CERTNN_DATA", data_root()),
                      ("", project_root())):
        doc = doc.replace(os.path.abspath(root) + "/", var + "/" if var else "")
    return doc

