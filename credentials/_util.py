"""Small strict helpers shared by the package (internal; not part of the public API).

* base64url (RFC 4648 §5) without padding, decoded strictly: only the URL-safe alphabet, no
  ``=``, and the encoding must be canonical (unused trailing bits are zero), so every distinct
  text maps to distinct bytes.
* JSON parsed strictly: duplicate member names, ``NaN``/``Infinity`` and absurd nesting are
  refused, so two parsers can never disagree about what a signed document says.
* Timestamps in the one format we emit, ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, seconds precision), and a
  strict RFC 3339 parser (a timezone is required) for what we read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import UTC, datetime
from typing import Any, TypeGuard

_SECONDS_Z_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_RFC3339_RE = re.compile(
    r"(?P<main>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})"
)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded, canonical base64url. Raises ``ValueError`` on anything else.

    Only the URL-safe alphabet is accepted (no ``+``, ``/``, ``=`` or whitespace; checked by
    :func:`binascii.a2b_base64` in strict mode after mapping ``-_`` to ``+/``), and the text
    must be canonical: the unused low bits of the last character are zero (RFC 4648 §3.5), so
    exactly one text decodes to given bytes.
    """
    if not isinstance(text, str):
        raise ValueError("not base64url")
    tail = len(text) % 4
    if tail == 1 or "+" in text or "/" in text or "=" in text:
        raise ValueError("not base64url")
    try:
        data = binascii.a2b_base64(
            (text + _PADDING[tail]).encode("ascii").translate(_TO_STANDARD), strict_mode=True
        )
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not base64url") from exc
    if tail and _B64URL_VALUES[text[-1]] & (0x0F if tail == 2 else 0x03):
        raise ValueError("non-canonical base64url")
    return data


_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_VALUES = {char: value for value, char in enumerate(_B64URL_ALPHABET)}
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = ("", "", "==", "=")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate JSON member {key!r}")
            seen.add(key)
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def strict_json_loads(data: str | bytes) -> Any:
    """Parse JSON strictly. Raises ``ValueError`` (including on bad UTF-8 and deep nesting)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _STRICT_DECODER.decode(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc


_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware (naive datetimes are ambiguous)")
    return value


def format_datetime(value: datetime, name: str = "datetime") -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC; sub-second precision is truncated."""
    require_aware(value, name)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def truncate_to_seconds(value: datetime) -> datetime:
    if value.tzinfo is UTC and not value.microsecond:
        return value  # already whole seconds in UTC (the usual case): nothing to do
    return value.astimezone(UTC).replace(microsecond=0)


def parse_datetime(text: object) -> datetime:
    """Parse an RFC 3339 date-time with a timezone; returns an aware UTC datetime.

    Raises ``ValueError`` for anything else (including a missing timezone).
    """
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError("not a date-time string")
    if len(text) == 20 and _SECONDS_Z_RE.fullmatch(text):  # the format we emit: fast path
        return datetime.fromisoformat(text)  # "Z" gives tzinfo=UTC itself
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise ValueError("not an RFC 3339 date-time with a timezone")
    frac = match.group("frac") or ""
    tz = match.group("tz")
    iso = match.group("main") + (("." + frac[:6].ljust(6, "0")) if frac else "")
    iso += "+00:00" if tz == "Z" else tz
    parsed = datetime.fromisoformat(iso)
    return parsed.astimezone(UTC)


def to_numeric_date(value: datetime) -> int:
    """RFC 7519 NumericDate (whole seconds since the epoch, rounded down)."""
    require_aware(value, "datetime")
    return math.floor(value.timestamp())


def from_numeric_date(value: object) -> datetime:
    """Inverse of :func:`to_numeric_date`; refuses booleans, NaN and out-of-range numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a NumericDate")
    if not math.isfinite(value):
        raise ValueError("not a NumericDate")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError("NumericDate out of range") from exc


def is_numeric_date(value: object) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def human_date(value: datetime) -> str:
    """``12 November 2026`` (the UTC date; English month names whatever the locale)."""
    value = require_aware(value, "date").astimezone(UTC)
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
