"""The batch format: a DuckDB vector in one plug-in call, as Arrow's own buffers.

DuckDB hands a vectorised UDF Arrow arrays, and Arrow already keeps a column
as flat buffers; passing those buffers through (a 16-byte-per-column header in
front) costs one copy and no per-row work in Python, where JSON would cost an
encode and a decode per value. docs/sql.md, "Batches", is the reference.
All integers little-endian, u32 unless said:

    batch  = n_rows, n_columns, column * n_columns
    column = type (1 int64, 2 float64, 3 utf8, 4 binary), validity_len,
             validity (validity_len bytes: 0 = no NULLs, else ceil(n/8), Arrow bit order),
             int64/float64: n_rows * 8 bytes
             utf8/binary:   (n_rows + 1) offsets (i32, Arrow's: need not start at 0),
                            data_len, data (data_len bytes)

The plug-in answers with `n_rows` then one column in the same encoding, of the
function's result type; it is checked in full (lengths, offsets, UTF-8)
before DuckDB sees it.
"""

from __future__ import annotations

import struct
from typing import Any

from .values import ResultType, WrongResultType

INT64, FLOAT64, UTF8, BINARY = 1, 2, 3, 4
_U32 = struct.Struct("<I")
_HEAD = struct.Struct("<II")


def _arrow() -> Any:
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.compute  # type: ignore[import-untyped]
    except ImportError:
        from wasmplug import Error

        raise Error('batch functions need pyarrow: pip install "wasmplug[sql]"') from None
    return pyarrow


def _normalised(array: Any) -> tuple[int, Any]:
    pa = _arrow()
    t = array.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return INT64, array.cast(pa.int64()) if t != pa.int64() else array
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return FLOAT64, array.cast(pa.float64()) if t != pa.float64() else array
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return UTF8, array.cast(pa.string()) if t != pa.string() else array
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return BINARY, array.cast(pa.binary()) if t != pa.binary() else array
    from wasmplug import Error

    raise Error(f"batch functions take integer, floating-point, text and blob columns, not {t}")


def encode(columns: list[Any]) -> bytes:
    """Arrow arrays (equal length) as one batch."""
    pa = _arrow()
    n = len(columns[0]) if columns else 0
    parts: list[Any] = [_HEAD.pack(n, len(columns))]
    for column in columns:
        if isinstance(column, pa.ChunkedArray):  # DuckDB's: one chunk, taken as is (no copy)
            column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        kind, array = _normalised(column)
        if array.null_count:
            validity = pa.compute.is_valid(array).buffers()[1]
            bitmap = memoryview(validity)[: (n + 7) // 8]
            parts += [_HEAD.pack(kind, len(bitmap)), bitmap]
        else:
            parts.append(_HEAD.pack(kind, 0))
        buffers = array.buffers()
        start = array.offset
        if kind in (INT64, FLOAT64):
            parts.append(memoryview(buffers[1])[start * 8:(start + n) * 8])
        else:
            parts.append(memoryview(buffers[1])[start * 4:(start + n + 1) * 4])
            data = memoryview(buffers[2]) if buffers[2] is not None else memoryview(b"")
            parts += [_U32.pack(len(data)), data]
    return b"".join(parts)


_RESULT_KIND = {ResultType.INTEGER: INT64, ResultType.REAL: FLOAT64, ResultType.TEXT: UTF8,
                ResultType.JSON: UTF8, ResultType.BLOB: BINARY}


def decode(output: bytes, rows: int, returns: ResultType) -> Any:
    """The plug-in's answer as an Arrow array of `rows` values, or `WrongResultType`."""
    pa = _arrow()
    expected = _RESULT_KIND[returns]
    size = len(output)
    if size < 12:
        raise WrongResultType(f"wrong result type: a batch answer needs at least 12 bytes, got {size}")
    n, kind, validity_len = struct.unpack_from("<III", output)
    if n != rows:
        raise WrongResultType(f"wrong result type: the answer has {n} rows for {rows}")
    if kind != expected:
        raise WrongResultType(f"wrong result type: the answer's column has type {kind}, "
                              f"expected {expected} for {returns.value}")
    if validity_len not in (0, (n + 7) // 8):
        raise WrongResultType(f"wrong result type: validity of {validity_len} bytes for {n} rows")
    buffer = pa.py_buffer(output)
    at = 12
    validity = buffer.slice(at, validity_len) if validity_len else None
    at += validity_len
    arrow_type = {INT64: pa.int64(), FLOAT64: pa.float64(), UTF8: pa.string(), BINARY: pa.binary()}[kind]
    if kind in (INT64, FLOAT64):
        if size != at + n * 8:
            raise WrongResultType(f"wrong result type: {size - at} bytes of values for {n} rows")
        buffers = [validity, buffer.slice(at, n * 8)]
    else:
        offsets_end = at + (n + 1) * 4
        if size < offsets_end + 4:
            raise WrongResultType("wrong result type: the answer's offsets are truncated")
        (data_len,) = _U32.unpack_from(output, offsets_end)
        if size != offsets_end + 4 + data_len:
            raise WrongResultType(f"wrong result type: data of {data_len} bytes does not match "
                                  f"the answer's size ({size} bytes)")
        buffers = [validity, buffer.slice(at, (n + 1) * 4), buffer.slice(offsets_end + 4, data_len)]
    try:
        array = pa.Array.from_buffers(arrow_type, n, buffers)
        if kind in (UTF8, BINARY):  # any 8 bytes are an int64 or a float64; offsets and UTF-8 are checked
            array.validate(full=True)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise WrongResultType(f"wrong result type: the answer is not a valid column: {exc}") from None
    return array
