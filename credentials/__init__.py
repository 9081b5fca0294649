"""CareCred portable training credentials: Open Badges 3.0 VC-JWTs, signed and checked offline.

This package is deliberately standalone: it depends only on the standard library,
``cryptography``, ``pyjwt`` and ``pypdf``, and never imports the web app, a database layer or
the course content (enforced by import-linter). A new employer can verify a certificate with
``python -m credentials verify certificate.pdf --trust trust.json --anchor <thumbprint>``
without any call to the issuer's server.

Modules:

* :mod:`credentials.keys`   -- P-256 keys, JWKs, RFC 7638 thumbprints, wrapping keys at rest
* :mod:`credentials.ob3`    -- building the OpenBadgeCredential JSON
* :mod:`credentials.vcjwt`    -- signing it as an OB 3.0 §8.2 VC-JWT (ES256)
* :mod:`credentials.trust`  -- the signed trust list of issuers and keys (``trust.json``)
* :mod:`credentials.verify` -- reading certificates (PDF or token) and verifying them
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
    IssuerProfile,
    build_credential,
    email_matches,
    hash_email,
    new_credential_id,
    new_salt,
)
from credentials.trust import (
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
    "REASON_CODES",
    "AchievementSpec",
    "Alignment",
    "CredentialError",
    "IssuerProfile",
    "KeyUnwrapError",
    "TrustList",
    "TrustListError",
    "TrustedIssuer",
    "TrustedKey",
    "UnreadableInput",
    "VerificationResult",
    "build_credential",
    "decode_unverified",
    "email_matches",
    "generate_signing_key",
    "hash_email",
    "jwk_thumbprint",
    "key_thumbprint",
    "load_trust_list",
    "new_credential_id",
    "new_salt",
    "public_jwk",
    "public_key_from_jwk",
    "read_tokens",
    "sign_credential",
    "sign_trust_list",
    "unwrap_private_key",
    "verify_path",
    "verify_token",
    "wrap_private_key",
]
