"""Names for the coded u8 fields of ITA WorldCup98 records (method, status, type, server), vectorised.

Every helper takes a structured record array (or the raw code array) and returns an array of the
same length, by table lookup; out-of-range codes map to the table's "other" entry.
"""

from __future__ import annotations

import numpy as np

METHOD_NAMES = ("GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "other")
TYPE_NAMES = (
    "HTML",
    "IMAGE",
    "AUDIO",
    "VIDEO",
    "JAVA",
    "FORMATTED",
    "DYNAMIC",
    "TEXT",
    "COMPRESSED",
    "PROGRAMS",
    "DIRECTORY",
    "ICL",
    "other",
)
REGION_NAMES = ("Santa Clara", "Plano", "Herndon", "Paris")
# The README says only "top 2 bits HTTP version"; the order below is the archive tools' (0.9, 1.0, 1.1).
HTTP_VERSION_NAMES = ("HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/X.X")
# Low 6 bits of status index this table; index 37 (and anything beyond) is "other", decoded as 0.
STATUS_CODES = (100, 101, *range(200, 207), *range(300, 306), *range(400, 416), *range(500, 506))
STATUS_OTHER_INDEX = len(STATUS_CODES)  # 37

assert STATUS_OTHER_INDEX == 37


def _codes(records_or_codes: np.ndarray, field: str) -> np.ndarray:
    arr = np.asarray(records_or_codes)
    return (arr[field] if arr.dtype.names else arr).astype(np.intp)


def _lookup(table: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    return np.asarray(table, dtype=object)[np.minimum(codes, len(table) - 1)]


def method_names(records: np.ndarray) -> np.ndarray:
    """'GET', 'HEAD', ... per record."""
    return _lookup(METHOD_NAMES, _codes(records, "method"))


def type_names(records: np.ndarray) -> np.ndarray:
    """'HTML', 'IMAGE', ... per record."""
    return _lookup(TYPE_NAMES, _codes(records, "type"))


def status_codes(records: np.ndarray) -> np.ndarray:
    """HTTP status code per record (int64; 0 where the log says "other")."""
    index = _codes(records, "status") & 0x3F
    table = np.asarray((*STATUS_CODES, 0), dtype=np.int64)
    return table[np.minimum(index, STATUS_OTHER_INDEX)]


def http_versions(records: np.ndarray) -> np.ndarray:
    """'HTTP/1.0', ... per record (top 2 bits of status)."""
    return np.asarray(HTTP_VERSION_NAMES, dtype=object)[_codes(records, "status") >> 6]


def region_codes(records: np.ndarray) -> np.ndarray:
    """Region number per record (top 3 bits of server): 0 Santa Clara, 1 Plano, 2 Herndon, 3 Paris."""
    return _codes(records, "server") >> 5


def region_names(records: np.ndarray) -> np.ndarray:
    """'Santa Clara', 'Plano', 'Herndon', 'Paris' per record ('unknown' for codes 4-7)."""
    return _lookup((*REGION_NAMES, "unknown"), region_codes(records))


def server_numbers(records: np.ndarray) -> np.ndarray:
    """Server number within its region per record (low 5 bits of server)."""
    return _codes(records, "server") & 0x1F


def value_counts(values: np.ndarray) -> dict[object, int]:
    """{value: count} of a 1-D array, sorted by value."""
    uniq, counts = np.unique(np.asarray(values), return_counts=True)
    return {v.item() if hasattr(v, "item") else v: int(c) for v, c in zip(uniq, counts, strict=True)}
