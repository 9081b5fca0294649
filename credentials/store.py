"""The user's trust store: trust lists kept on this computer, each pinned by its own root.

``python -m credentials trust add trust.json --anchor <thumbprint>`` verifies a trust list
against the root thumbprint given on the command line and keeps it, so later
``verify`` commands need no ``--trust``/``--anchor``. Several trust lists (from different
roots: different LMS instances or sector schemes) can be kept side by side; a credential is
valid if any of them vouches for its key.

Location: ``$CARECRED_TRUST_STORE`` if set, else ``$XDG_CONFIG_HOME/carecred/trust``, else
``~/.config/carecred/trust``. Each trust list is kept unchanged as ``<anchor>.json``: the file
name *is* the pinned anchor, and the list is verified against it again every time it is
loaded (so editing a stored file cannot add an issuer). The directory is created private to
the user (mode 0700) and files are replaced atomically.

Adding a list for an anchor that is already stored replaces it only if the new list was issued
at the same time or later (``trust_list_older`` otherwise): an old list could re-admit a key
that was later marked compromised.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from credentials._util import human_date, require_aware
from credentials.errors import TrustListError
from credentials.trust import MAX_TRUST_LIST_BYTES, TrustList, load_trust_list

__all__ = [
    "STORE_ENV",
    "StoredTrustList",
    "TrustStore",
    "default_store_dir",
]

STORE_ENV = "CARECRED_TRUST_STORE"
_ANCHOR_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def default_store_dir() -> Path:
    """``$CARECRED_TRUST_STORE``, else ``$XDG_CONFIG_HOME/carecred/trust``, else
    ``~/.config/carecred/trust``."""
    explicit = os.environ.get(STORE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "carecred" / "trust"


def _check_anchor(anchor: str) -> str:
    anchor = anchor.strip() if isinstance(anchor, str) else ""
    if not _ANCHOR_RE.fullmatch(anchor):
        raise TrustListError(
            "The anchor is not a key thumbprint (43 characters of A-Z, a-z, 0-9, - and _).",
            "trust_list_untrusted_root",
        )
    return anchor


@dataclass(frozen=True)
class StoredTrustList:
    """A trust list in the store: its anchor, file, and either the loaded list or the reason it
    cannot be used now (for example, it has expired)."""

    anchor: str
    path: Path
    trust: TrustList | None
    error: TrustListError | None = None


class TrustStore:
    """Trust lists kept in a directory (by default :func:`default_store_dir`)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_store_dir()

    def _path(self, anchor: str) -> Path:
        return self.directory / f"{_check_anchor(anchor)}.json"

    def _read(self, path: Path) -> bytes:
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_TRUST_LIST_BYTES + 1)
        except OSError as exc:
            raise TrustListError(
                "The stored trust list cannot be opened.", "trust_list_missing"
            ) from exc
        return data

    def add(self, data: str | bytes, anchor: str, now: datetime) -> TrustList:
        """Verify a trust list against ``anchor`` and keep it. Returns the loaded list.

        Raises :class:`TrustListError` if it does not verify, or (``trust_list_older``) if a
        newer list from the same root is already stored.
        """
        require_aware(now, "now")
        anchor = _check_anchor(anchor)
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        trust = load_trust_list(raw, anchor, now)
        path = self._path(anchor)
        if path.exists():
            try:
                current = load_trust_list(self._read(path), anchor, now)
            except TrustListError:
                current = None  # expired or damaged: replace it
            if current is not None and current.issued_at > trust.issued_at:
                raise TrustListError(
                    f"A newer trust list from this root (issued {human_date(current.issued_at)})"
                    f" is already stored; this one was issued {human_date(trust.issued_at)}.",
                    "trust_list_older",
                )
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self.directory, prefix=".add-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as fh:
                fh.write(raw)
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        return trust

    def remove(self, anchor: str) -> bool:
        """Forget the trust list pinned by ``anchor``; False if there was none."""
        path = self._path(anchor)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def anchors(self) -> list[str]:
        """Anchors of the stored trust lists, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p.stem
            for p in self.directory.glob("*.json")
            if p.is_file() and _ANCHOR_RE.fullmatch(p.stem)
        )

    def entries(self, now: datetime) -> list[StoredTrustList]:
        """Every stored trust list, each verified again against its anchor at ``now``."""
        require_aware(now, "now")
        out: list[StoredTrustList] = []
        for anchor in self.anchors():
            path = self._path(anchor)
            try:
                trust = load_trust_list(self._read(path), anchor, now)
            except TrustListError as exc:
                out.append(StoredTrustList(anchor=anchor, path=path, trust=None, error=exc))
            else:
                out.append(StoredTrustList(anchor=anchor, path=path, trust=trust))
        return out

    def load_all(self, now: datetime) -> list[TrustList]:
        """The stored trust lists that can be used at ``now``."""
        return [e.trust for e in self.entries(now) if e.trust is not None]
