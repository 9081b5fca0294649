"""Evidence uploads for an observation: photos of documents and PDFs.

- The type comes from the content (magic bytes), never from the file name or the browser:
  JPEG, PNG and PDF only. Images are opened with Pillow and PDFs with pypdf; a file that does
  not open as what it claims is refused.
- Images are re-encoded from their pixels alone, so EXIF (location, camera, time), XMP, ICC
  and text chunks are all dropped.
- At most MAX_BYTES each. Stored under EVIDENCE_DIR (instance/evidence by default: outside the
  static folder) with a random name; served only to the worker, and to their organisation's
  mentors, managers and admins, always as a download.
- A refused upload raises EvidenceRefused before anything is written: the observation and
  everything else already saved stay as they were.

Takes the session, the storage folder and the clock; never commits.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .assess.models import EvidenceFile, Observation
from .errors import NotFound, ServiceError
from .models import Membership, Role, User
from .observations import check_may_add_to, lock_for_change

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a phone photo is about 12 million; more is a decompression bomb
VIEWER_ROLES = frozenset({Role.MENTOR.value, Role.MANAGER.value, Role.ADMIN.value})
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}


class EvidenceRefused(ServiceError):
    code, status = "upload_refused", 400


def sniff(data: bytes) -> str | None:
    """The content type from the first bytes, or None when it is not one we take."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _clean_image(data: bytes, content_type: str) -> bytes:
    """Re-encode from the pixels only: no EXIF (GPS), XMP, ICC profile or text chunks survive."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise EvidenceRefused(
                        "That image is too large in pixels. Take a smaller photo."
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                # Respect the camera's rotation before the orientation tag is dropped.
                upright = ImageOps.exif_transpose(img) or img
                mode = "RGB" if content_type == "image/jpeg" else upright.mode
                if mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I", "I;16"):
                    mode = "RGBA"
                pixels = upright.convert(mode)
                clean = Image.new(pixels.mode, pixels.size)
                if pixels.mode == "P":
                    clean.putpalette(pixels.getpalette() or [])
                clean.paste(pixels)
                out = io.BytesIO()
                if content_type == "image/jpeg":
                    clean.save(out, format="JPEG", quality=88, optimize=True)
                else:
                    clean.save(out, format="PNG", optimize=True)
                return out.getvalue()
    except EvidenceRefused:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise EvidenceRefused(
            "That image could not be read: it may be damaged. Take the photo again."
        ) from None


def _check_pdf(data: bytes) -> None:
    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise EvidenceRefused("That PDF is password-protected. Upload one without a password.")
        if len(reader.pages) < 1:
            raise EvidenceRefused("That PDF has no pages.")
        for page in reader.pages:
            page.mediabox  # noqa: B018 - reading each page's box parses its dictionary
    except EvidenceRefused:
        raise
    except (
        PdfReadError,
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
    ):
        raise EvidenceRefused("That PDF could not be read: it may be damaged.") from None


def safe_name(name: str | None, content_type: str) -> str:
    """A display name without paths or odd characters, ending in the real type's extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKC", base)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r"[^A-Za-z0-9 _()-]+", "-", stem).strip(" .-_")[:80] or "evidence"
    return stem + EXTENSIONS[content_type]


@dataclass(frozen=True)
class Prepared:
    content_type: str
    data: bytes
    original_name: str


def prepare(filename: str | None, data: bytes) -> Prepared:
    """Check and clean an upload; EvidenceRefused says why in plain words."""
    if not data:
        raise EvidenceRefused("The file is empty. Choose a photo or a PDF.")
    if len(data) > MAX_BYTES:
        raise EvidenceRefused(
            f"That file is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_BYTES // 1024 // 1024} MB. Take a smaller photo or split the PDF."
        )
    content_type = sniff(data)
    if content_type is None:
        raise EvidenceRefused(
            "Only photos (JPEG or PNG) and PDF documents can be uploaded. That file is neither, "
            "whatever its name says."
        )
    if content_type == "application/pdf":
        _check_pdf(data)
    else:
        data = _clean_image(data, content_type)
    return Prepared(content_type, data, safe_name(filename, content_type))


@dataclass(frozen=True)
class Kept:
    """An upload checked, cleaned and written to storage."""

    stored_name: str  # its random file name in the storage folder
    content_type: str
    size: int
    sha256: str
    original_name: str  # safe to show


def keep(filename: str | None, data: bytes, folder: Path) -> Kept:
    """Check and clean an upload (`prepare`), then write it under `folder` with a random name.

    EvidenceRefused, before anything is written, when the file is not one we take."""
    prepared = prepare(filename, data)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored_name = secrets.token_hex(16)
    with open(folder / stored_name, "xb") as fh:
        fh.write(prepared.data)
    return Kept(
        stored_name,
        prepared.content_type,
        len(prepared.data),
        hashlib.sha256(prepared.data).hexdigest(),
        prepared.original_name,
    )


def store(
    session: Session,
    obs: Observation,
    uploader: User,
    filename: str | None,
    data: bytes,
    folder: Path,
    now: datetime,
) -> EvidenceFile:
    """Check, clean and keep one upload for an observation (and audit it).

    Only the observation's assessor (or a manager or admin of its organisation) adds evidence,
    and only while it is a draft: Forbidden or Conflict otherwise, before anything is written.
    """
    lock_for_change(session, obs)
    check_may_add_to(session, obs, uploader, "evidence")
    kept = keep(filename, data, folder)
    row = EvidenceFile(
        observation_id=obs.id,
        uploaded_by_id=uploader.id,
        content_type=kept.content_type,
        size=kept.size,
        sha256=kept.sha256,
        stored_name=kept.stored_name,
        original_name=kept.original_name,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=uploader,
        action="evidence.uploaded",
        entity_type="evidence",
        entity_id=row.id,
        now=now,
        org_id=obs.org_id,
        subject_user_id=obs.learner_id,
        after={
            "observation_id": obs.id,
            "content_type": row.content_type,
            "size": row.size,
            "sha256": row.sha256,
            "name": row.original_name,
        },
    )
    return row


def for_viewer(
    session: Session, user: User, evidence_id: int, folder: Path
) -> tuple[EvidenceFile, Path]:
    """The file if `user` may see it (the worker, or their organisation's mentors and managers)."""
    row = session.get(EvidenceFile, evidence_id)
    if row is None:
        raise NotFound("That file does not exist.")
    obs = row.observation
    allowed = obs.learner_id == user.id or bool(
        session.scalar(
            select(Membership.id).where(
                Membership.user_id == user.id,
                Membership.org_id == obs.org_id,
                Membership.role.in_(VIEWER_ROLES),
            )
        )
    )
    if not allowed:
        raise NotFound("That file does not exist.")
    path = folder / row.stored_name
    if not path.is_file():
        raise NotFound("That file is missing from storage.")
    return row, path
