"""CareCred portable training credentials: Open Badges 3.0 VC-JWTs, signed and checked offline.

This package is deliberately standalone: it depends only on the standard library,
``cryptography``, ``pyjwt``, ``pypdf`` and, for QR codes, ``cbor2``, ``base45``, ``segno``,
``zxing-cpp`` and ``pillow``; it never imports the web app, a database layer or the course
content (enforced by import-linter). A new employer can verify a certificate with
``python -m credentials verify certificate.pdf --trust trust.json --anchor <thumbprint>``
without any call to the issuer's server.

Modules:

* :mod:`credentials.keys`   -- P-256 keys, JWKs, RFC 7638 thumbprints, wrapping keys at rest
* :mod:`credentials.ob3`    -- building the OpenBadgeCredential JSON
* :mod:`credentials.vcjwt`    -- signing it as an OB 3.0 §8.2 VC-JWT (ES256)
* :mod:`credentials.status` -- revocation and suspension (W3C Bitstring Status List v1.0)
* :mod:`credentials.trust`  -- the signed trust list of issuers and keys (``trust.json``)
* :mod:`credentials.verify` -- reading certificates (PDF, token, QR, passport) and verifying them
* :mod:`credentials.qr`     -- the compact QR code (COSE_Sign1 + zlib + base45, ``CC1:``)
* :mod:`credentials.passport` -- several credentials and their status lists in one file
* :mod:`credentials.store`  -- the user's trust store (``trust add``/``list``/``remove``)
* :mod:`credentials.__main__` -- the ``carecred-verify`` command line
"""

from credentials.errors import CredentialError, KeyUnwrapError, TrustListError, UnreadableInput
from credentials.keys import (
    generate_signing_key,
    jwk_thumbprint,
    key_thumbprint,
    public_jwk,
    public_key_from_jwk,
    unwrap_private_key,
    wrap_private_key,
)
from credentials.ob3 import (
    AchievementSpec,
    Alignment,
    Evidence,
    IssuerProfile,
    ResultDescription,
    SubjectResult,
    build_credential,
    email_matches,
    hash_email,
    new_credential_id,
    new_salt,
)
from credentials.passport import Passport, build_passport, read_passport, verify_passport
from credentials.qr import (
    QR_PREFIX,
    encode_qr,
    qr_png,
    qr_version,
    read_qr_image,
    trim_credential,
    verify_qr,
)
from credentials.status import (
    MIN_ENTRIES,
    StatusBits,
    StatusList,
    StatusListError,
    build_status_list_credential,
    load_status_list,
    sign_status_list,
    status_entry,
)
from credentials.store import TrustStore
from credentials.trust import (
    StatusListPair,
    TrustedIssuer,
    TrustedKey,
    TrustList,
    load_trust_list,
    sign_trust_list,
)
from credentials.vcjwt import decode_unverified, sign_credential
from credentials.verify import (
    REASON_CODES,
    VerificationResult,
    read_tokens,
    verify_path,
    verify_token,
)

__all__ = [
    "MIN_ENTRIES",
    "QR_PREFIX",
    "REASON_CODES",
    "AchievementSpec",
    "Alignment",
    "CredentialError",
    "Evidence",
    "IssuerProfile",
    "KeyUnwrapError",
    "Passport",
    "ResultDescription",
    "StatusBits",
    "StatusList",
    "StatusListError",
    "StatusListPair",
    "TrustList",
    "TrustListError",
    "TrustStore",
    "TrustedIssuer",
    "SubjectResult",
    "TrustedKey",
    "UnreadableInput",
    "VerificationResult",
    "build_credential",
    "build_passport",
    "build_status_list_credential",
    "decode_unverified",
    "email_matches",
    "encode_qr",
    "generate_signing_key",
    "hash_email",
    "jwk_thumbprint",
    "key_thumbprint",
    "load_status_list",
    "load_trust_list",
    "new_credential_id",
    "new_salt",
    "public_jwk",
    "public_key_from_jwk",
    "qr_png",
    "qr_version",
    "read_passport",
    "read_qr_image",
    "read_tokens",
    "sign_credential",
    "sign_status_list",
    "sign_trust_list",
    "status_entry",
    "trim_credential",
    "unwrap_private_key",
    "verify_passport",
    "verify_path",
    "verify_qr",
    "verify_token",
    "wrap_private_key",
]
