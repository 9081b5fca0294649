"""The compact QR code printed on a certificate, verifiable offline from paper.

A full OB 3.0 VC-JWT (about 3 kB) does not fit a QR code that a phone can read from an A4 page,
so the QR carries a *trimmed* copy of the credential in the envelope the EU Digital COVID
Certificate used, with the VC-JOSE-COSE media types:

1. **Trim** (:func:`trim_credential`): keep ``@context``, ``type``, ``id``, ``issuer.id``,
   ``issuer.name``, ``name``, ``validFrom``, ``validUntil``,
   ``credentialSubject.identifier`` (the learner's name only, never the e-mail hash),
   ``credentialSubject.achievement`` ``id``/``name``/``version``,
   ``credentialSubject.activityEndDate`` and ``credentialStatus``; drop everything else
   (descriptions, criteria, alignments...). ``@context`` and ``type`` are kept because the
   envelope says the payload is a VC (``application/vc``), which must have them.
2. **Sign** a ``COSE_Sign1`` (RFC 9052, CBOR tag 18) over the compact JSON of the trimmed
   credential::

       18([ protected = bstr(CBOR map {1: -7 (ES256), 4: kid (UTF-8 bytes of the RFC 7638
                                       thumbprint), 16: "application/vc+cose",
                                       3: "application/vc"}),
            unprotected = {},
            payload = <compact JSON, UTF-8>,
            signature = r || s (64 bytes) over
                        CBOR ["Signature1", protected, b"", payload] ])

3. **Compress** with zlib (level 9), **encode** with base45 (RFC 9285, the QR alphanumeric
   alphabet), and prefix ``CC1:``.

The issuer's key is the same as for the VC-JWT and is found only by ``kid`` in the trust list.
:func:`verify_qr` gives the same reason codes as :func:`credentials.verify.verify_token`
(there are no JWT claims, so never ``claims_mismatch``). Everything is bounded before it is
parsed: at most 4,000 characters of text, 64 KB after decompression, and a strict pre-scan of
the CBOR (definite lengths only, no tags but the outer 18, no floats or simple values, shallow
nesting, nothing after the end) before ``cbor2`` decodes it.

:func:`qr_png` draws the code with segno at error correction level **M** in alphanumeric mode;
a realistic credential fits in QR version 25 or lower. :func:`read_qr_image` reads it back from
a photo or scan (PNG or JPEG, at most 20 MB and 40 megapixels) with zxing-cpp.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from credentials._util import require_aware, strict_json_loads
from credentials.errors import UnreadableInput
from credentials.keys import key_thumbprint
from credentials.status import StatusList
from credentials.verify import (
    DEFAULT_MAX_STATUS_AGE,
    MAX_IMAGE_BYTES,
    TrustArg,
    VerificationResult,
    _assess,
    _contents,
    _fail,
    _Malformed,
    _Outcome,
    _pick,
    _trusts,
)

__all__ = [
    "COSE_CONTENT_TYPE",
    "COSE_TYP",
    "MAX_IMAGE_PIXELS",
    "MAX_QR_CHARS",
    "QR_PREFIX",
    "decode_qr_image",
    "encode_qr",
    "qr_png",
    "qr_version",
    "read_qr_image",
    "trim_credential",
    "verify_qr",
]

QR_PREFIX = "CC1:"
COSE_TYP = "application/vc+cose"
COSE_CONTENT_TYPE = "application/vc"
#: Longest QR text accepted (a version 40 code holds 4,296 alphanumeric characters at most).
MAX_QR_CHARS = 4000
#: Largest decompressed COSE message accepted (64 KB).
MAX_COSE_BYTES = 64 * 1024
#: Largest image read for a QR code (40 megapixels).
MAX_IMAGE_PIXELS = 40_000_000

_COSE_SIGN1_TAG = 18
_ALG, _CTY, _KID, _TYP = 1, 3, 4, 16
_ES256 = -7
_HEADER_LABELS = frozenset({_ALG, _CTY, _KID, _TYP})
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_MAX_CBOR_ITEMS = 64
_MAX_CBOR_DEPTH = 2


# --------------------------------------------------------------------------- encoding


def trim_credential(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of a credential that goes in the QR code (see the module docstring)."""
    if not isinstance(credential, Mapping):
        raise TypeError("credential must be a mapping")
    out: dict[str, Any] = {}
    for key in ("@context", "type", "id"):
        if key in credential:
            out[key] = credential[key]
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        out["issuer"] = {k: issuer[k] for k in ("id", "name") if k in issuer}
    elif issuer is not None:
        out["issuer"] = issuer
    for key in ("name", "validFrom", "validUntil"):
        if key in credential:
            out[key] = credential[key]
    subject = credential.get("credentialSubject")
    if isinstance(subject, Mapping):
        trimmed: dict[str, Any] = {}
        identifiers = subject.get("identifier")
        if isinstance(identifiers, list):
            names = [
                {k: v for k, v in ident.items() if k != "salt"}
                for ident in identifiers
                if isinstance(ident, Mapping)
                and ident.get("identityType") == "name"
                and ident.get("hashed") is False
            ]
            if names:
                trimmed["identifier"] = names[:1]
        achievement = subject.get("achievement")
        if isinstance(achievement, Mapping):
            trimmed["achievement"] = {
                k: achievement[k] for k in ("id", "name", "version") if k in achievement
            }
        if "activityEndDate" in subject:
            trimmed["activityEndDate"] = subject["activityEndDate"]
        out["credentialSubject"] = trimmed
    if "credentialStatus" in credential:
        out["credentialStatus"] = credential["credentialStatus"]
    return out


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return bytes(cbor2.dumps(["Signature1", protected, b"", payload]))


def encode_qr(credential: Mapping[str, Any], private_key: ec.EllipticCurvePrivateKey) -> str:
    """The ``CC1:`` text of the QR code for ``credential`` (trimmed, COSE-signed, compressed).

    Raises ``ValueError`` if the result is longer than :data:`MAX_QR_CHARS`.
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise TypeError("private_key must be an EC P-256 private key (ES256)")
    trimmed = trim_credential(credential)
    if not isinstance(trimmed.get("id"), str):
        raise ValueError("credential has no id")
    payload = json.dumps(trimmed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    protected = bytes(
        cbor2.dumps(
            {
                _ALG: _ES256,
                _KID: key_thumbprint(private_key).encode("utf-8"),
                _TYP: COSE_TYP,
                _CTY: COSE_CONTENT_TYPE,
            }
        )
    )
    der = private_key.sign(_sig_structure(protected, payload), _ECDSA_SHA256)
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    message = cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    encoded: bytes = base45.b45encode(zlib.compress(message, 9))
    text = QR_PREFIX + encoded.decode("ascii")
    if len(text) > MAX_QR_CHARS:
        raise ValueError("credential is too large for a QR code")
    return text


# --------------------------------------------------------------------------- decoding


class _Bad(Exception):
    """Internal: the QR text is not a well-formed COSE_Sign1 of the expected shape."""


def _cbor_prescan(data: bytes, *, allowed_tags: frozenset[int]) -> None:
    """Refuse anything but small, definite-length CBOR made of ints, strings, arrays and maps
    (and the listed tags), with nothing after the end. Runs before ``cbor2`` sees the bytes."""
    pos = 0
    budget = _MAX_CBOR_ITEMS

    def item(depth: int) -> None:
        nonlocal pos, budget
        budget -= 1
        if budget < 0 or depth > _MAX_CBOR_DEPTH + 1 or pos >= len(data):
            raise _Bad("CBOR too deep, too long or truncated")
        initial = data[pos]
        pos += 1
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            arg = info
        elif info <= 27:
            width = 1 << (info - 24)
            if pos + width > len(data):
                raise _Bad("CBOR truncated")
            arg = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:
            raise _Bad("indefinite length or reserved CBOR")
        if major in (0, 1):
            return
        if major in (2, 3):
            if arg > len(data) - pos:
                raise _Bad("CBOR string longer than the data")
            pos += arg
            return
        if major in (4, 5):
            count = arg * (2 if major == 5 else 1)
            if count > budget:
                raise _Bad("CBOR container too large")
            for _ in range(count):
                item(depth + 1)
            return
        if major == 6 and arg in allowed_tags and depth == 0:
            item(depth)
            return
        raise _Bad("unexpected CBOR tag or simple value")

    item(0)
    if pos != len(data):
        raise _Bad("data after the end of the CBOR item")


def _cbor_decode(data: bytes, *, allowed_tags: frozenset[int] = frozenset()) -> Any:
    _cbor_prescan(data, allowed_tags=allowed_tags)
    stream = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(
        stream,
        max_depth=_MAX_CBOR_DEPTH + 2,
        allow_indefinite=False,
        allow_duplicate_keys=False,
    )
    try:
        value = decoder.decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise _Bad("not CBOR") from exc
    if stream.tell() != len(data):
        raise _Bad("data after the end of the CBOR item")
    return value


def _unwrap(text: object) -> tuple[bytes, Mapping[Any, Any], bytes, bytes]:
    """``(protected, protected header, payload, signature)`` of a QR text. Raises ``_Bad``."""
    if not isinstance(text, str):
        raise _Bad("not text")
    text = text.strip()
    if len(text) > MAX_QR_CHARS:
        raise _Bad("too long")
    if not text.startswith(QR_PREFIX):
        raise _Bad("wrong prefix")
    try:
        compressed = base45.b45decode(text[len(QR_PREFIX) :])
    except (ValueError, TypeError) as exc:
        raise _Bad("not base45") from exc
    inflater = zlib.decompressobj()
    try:
        message = inflater.decompress(compressed, MAX_COSE_BYTES + 1)
    except zlib.error as exc:
        raise _Bad("not zlib") from exc
    if (
        len(message) > MAX_COSE_BYTES
        or inflater.unconsumed_tail
        or not inflater.eof
        or inflater.unused_data
    ):
        raise _Bad("zlib data too large, truncated or followed by more data")
    outer = _cbor_decode(message, allowed_tags=frozenset({_COSE_SIGN1_TAG}))
    if not isinstance(outer, cbor2.CBORTag) or outer.tag != _COSE_SIGN1_TAG:
        raise _Bad("not a tagged COSE_Sign1")
    parts = outer.value
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        raise _Bad("COSE_Sign1 is not an array of four")
    protected, unprotected, payload, signature = parts
    if not (
        isinstance(protected, bytes)
        and isinstance(unprotected, Mapping)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
    ):
        raise _Bad("COSE_Sign1 members have the wrong types")
    if unprotected:
        raise _Bad("unprotected header parameters are not accepted")
    header = _cbor_decode(protected)
    if not isinstance(header, Mapping):
        raise _Bad("protected header is not a map")
    return protected, header, payload, signature


def _header_shape_ok(header: Mapping[Any, Any]) -> bool:
    if not set(header) <= _HEADER_LABELS:
        return False  # e.g. crit (2) or anything unknown
    if header.get(_TYP, COSE_TYP) != COSE_TYP:
        return False
    return bool(header.get(_CTY, COSE_CONTENT_TYPE) == COSE_CONTENT_TYPE)


def _verify_signature(
    public_key: ec.EllipticCurvePublicKey, protected: bytes, payload: bytes, signature: bytes
) -> bool:
    if len(signature) != 64:
        return False
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, _sig_structure(protected, payload), _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def verify_qr(
    text: str,
    trust: TrustArg,
    now: datetime,
    *,
    status_lists: Mapping[str, StatusList] | None = None,
    max_status_age: timedelta = DEFAULT_MAX_STATUS_AGE,
    source: str = "<qr>",
) -> VerificationResult:
    """Check the text of a CareCred QR code (``CC1:...``) offline; never raises for bad input.

    Same trust lists, status lists, checks and reason codes as
    :func:`credentials.verify.verify_token` (see the module docstring for the format).
    """
    require_aware(now, "now")
    trusts = _trusts(trust)
    try:
        protected, header, payload, signature = _unwrap(text)
    except _Bad:
        return _fail(source, "malformed")
    alg = header.get(_ALG)
    if alg != _ES256 or isinstance(alg, bool):
        return _fail(source, "unsupported_algorithm")
    if not _header_shape_ok(header):
        return _fail(source, "malformed")
    raw_kid = header.get(_KID)
    if not isinstance(raw_kid, bytes):
        return _fail(source, "unknown_key")
    try:
        kid = raw_kid.decode("utf-8")
    except UnicodeDecodeError:
        return _fail(source, "unknown_key")

    outcomes: list[_Outcome] = []
    for trust_list in trusts:
        found = trust_list._lookup(kid)
        if found is None:
            outcomes.append(_Outcome(_fail(source, "unknown_key")))
            continue
        signer, key, public_key = found
        if not _verify_signature(public_key, protected, payload, signature):
            outcomes.append(_Outcome(_fail(source, "bad_signature")))
            continue
        try:
            document = strict_json_loads(payload)
            if not isinstance(document, dict):
                raise _Malformed("payload")
            contents = _contents(document)
        except (ValueError, _Malformed):
            outcomes.append(_Outcome(_fail(source, "malformed")))
            continue
        result = _assess(
            source, contents, signer, key, trust_list, now, status_lists, max_status_age
        )
        outcomes.append(_Outcome(result, document))
    return _pick(outcomes).result


# --------------------------------------------------------------------------- drawing


def _segno_qr(text: str) -> Any:
    import segno

    if not isinstance(text, str) or not text.startswith(QR_PREFIX) or len(text) > MAX_QR_CHARS:
        raise ValueError("not the text of a CareCred QR code")
    return segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False)


def qr_png(text: str, scale: int = 4) -> bytes:
    """A PNG of the QR code (error correction M, alphanumeric mode, 4-module quiet zone)."""
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 40:
        raise ValueError("scale must be an int from 1 to 40")
    buffer = io.BytesIO()
    _segno_qr(text).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_version(text: str) -> int:
    """The QR version (1-40) :func:`qr_png` uses for ``text`` at error correction M."""
    version = _segno_qr(text).version
    if not isinstance(version, int):  # pragma: no cover - segno returns ints for QR codes
        raise ValueError("not a QR code version")
    return version


# --------------------------------------------------------------------------- reading images


def decode_qr_image(image: Any) -> list[str]:
    """Texts of the QR codes zxing-cpp finds in a Pillow image (any mode)."""
    import zxingcpp
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError("image must be a PIL image")
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError("image too large")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    if image.mode not in ("L", "RGB"):
        image = image.convert("L")
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.barcode_formats_from_str("QRCode"))
    return [b.text.strip() for b in found if b.valid and isinstance(b.text, str)]


def _check_complete(data: bytes) -> None:
    """Refuse a truncated or corrupted image, whatever Pillow's process-wide settings are.

    Pillow decodes truncated images silently when ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set,
    and importing WeasyPrint sets it (in the LMS process). So integrity is checked here: PNG by
    Pillow's chunk and CRC verification, JPEG by its end-of-image marker.
    """
    from PIL import Image

    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
            image.verify()
    elif data.startswith(b"\xff\xd8") and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise OSError("truncated JPEG")


def read_qr_image(path: str | os.PathLike[str]) -> str:
    """The text of the CareCred QR code in a PNG or JPEG photo or scan.

    Raises :class:`UnreadableInput`: ``not_found``, ``not_a_file``, ``too_large`` (over 20 MB
    or 40 megapixels), ``image_damaged`` (not a readable PNG/JPEG), ``no_qr`` (no QR code
    found) or ``not_a_certificate_qr`` (QR codes found, but none is a CareCred certificate).
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        if not p.exists():
            raise UnreadableInput("There is no such file.", "not_found")
        if not p.is_file():
            raise UnreadableInput("This is not a file.", "not_a_file")
        if p.stat().st_size > MAX_IMAGE_BYTES:
            raise UnreadableInput(
                f"The image is too large (the limit is {MAX_IMAGE_BYTES // (1024 * 1024)} MB).",
                "too_large",
            )
        data = p.read_bytes()
        with warnings.catch_warnings():
            # Our own, lower, pixel limit applies below; Pillow's warning would only duplicate it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            _check_complete(data)
            with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise UnreadableInput(
                        f"The image is too large ({width} x {height} pixels; the limit is "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels).",
                        "too_large",
                    )
                image.load()
                texts = decode_qr_image(image)
    except UnreadableInput:
        raise
    except Image.DecompressionBombError as exc:
        raise UnreadableInput(
            f"The image is too large (the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels).",
            "too_large",
        ) from exc
    except UnidentifiedImageError as exc:
        raise UnreadableInput(
            "The file is not a PNG or JPEG image that can be read.", "image_damaged"
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableInput("The image is damaged and cannot be read.", "image_damaged") from exc
    ours = [t for t in texts if t.startswith(QR_PREFIX)]
    if ours:
        return ours[0]
    if texts:
        raise UnreadableInput(
            "The QR code in the image is not a CareCred certificate.", "not_a_certificate_qr"
        )
    raise UnreadableInput(
        "No QR code was found in the image: use a sharp, well-lit photo with the whole code "
        "in view.",
        "no_qr",
    )
