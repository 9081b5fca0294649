"""Typed errors raised by the ``credentials`` package.

Every error carries two things:

* ``code`` -- a short, stable, machine-readable string (for logs, JSON output and tests);
* ``str(error)`` -- one plain-English sentence that can be shown to a care manager.

Messages never contain secrets (key-encryption secrets, private keys) or raw file contents.

Note that a credential that *fails verification* is not an error: :func:`credentials.verify_token`
returns a :class:`credentials.verify.VerificationResult` with ``valid=False`` and a reason code.
These exceptions are for problems that stop the check from happening at all (a file that cannot
be read, a trust list that cannot be trusted) and for programming/configuration problems.
"""

from __future__ import annotations

__all__ = [
    "CredentialError",
    "KeyUnwrapError",
    "TrustListError",
    "UnreadableInput",
]


class CredentialError(Exception):
    """Base class. ``code`` is machine-readable; ``str(e)`` is a plain-English message."""

    default_code = "credential_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code: str = code if code is not None else self.default_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class UnreadableInput(CredentialError):
    """The input could not be read as a certificate at all (the CLI exits with status 2).

    Examples: the file does not exist, is too large, is not a PDF, the PDF has no
    ``credential.jwt`` attachment, the text is not a compact JWS, a photo has no QR code
    (``no_qr``) or a passport file is not valid (``passport_malformed``).
    """

    default_code = "unreadable"


class TrustListError(CredentialError):
    """The trust list cannot be used.

    Codes: ``trust_list_malformed`` (including a stapled status list that does not verify),
    ``trust_list_untrusted_root``, ``trust_list_bad_signature``, ``trust_list_expired``;
    from the command line and the trust store also ``trust_list_missing`` (no such file) and
    ``trust_list_older`` (a newer list from the same root is already stored).

    Status lists have their own subclass, :class:`credentials.status.StatusListError`.
    """

    default_code = "trust_list_malformed"


class KeyUnwrapError(CredentialError):
    """A wrapped private key could not be decrypted (wrong key-encryption secret or corrupted)."""

    default_code = "key_unwrap_failed"
