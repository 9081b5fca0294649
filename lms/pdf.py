"""Certificate PDFs with WeasyPrint.

Rendered from a context of plain strings (never database objects), through a URL fetcher that
allows only `data:` URLs, so a crafted name or title cannot make the renderer reach the network
or the file system. The signed credential travels inside the PDF as the attachment
`credential.jwt`, which is what `python -m credentials verify` reads.

WeasyPrint is imported on first use, not with this module: importing it costs about 0.35 s,
which every web worker would otherwise pay at start-up for pages that never render a PDF.
`DataOnlyFetcher` is made on first use too (it subclasses WeasyPrint's `URLFetcher`); new code
should call `data_only_fetcher()`.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import render_template

from credentials import qr_png
from credentials.verify import assessments_of

from .models import IssuedCredential

if TYPE_CHECKING:
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher


@functools.cache
def _fetcher_class() -> type[URLFetcher]:
    from weasyprint.urls import URLFetcher

    class DataOnlyFetcher(URLFetcher):
        """Fetches `data:` URLs only: no files, no network, no redirects."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols={"data"}, allow_redirects=False, timeout=1)

    DataOnlyFetcher.__module__ = __name__
    return DataOnlyFetcher


def data_only_fetcher() -> URLFetcher:
    """A WeasyPrint URL fetcher that allows only `data:` URLs."""
    return _fetcher_class()()


def __getattr__(name: str) -> Any:
    """`DataOnlyFetcher`, the class, made (and WeasyPrint imported) when first asked for."""
    if name == "DataOnlyFetcher":
        return _fetcher_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class CertificateContext:
    learner_name: str
    achievement_name: str
    module_code: str
    module_version: str
    issuer_name: str
    issuer_id: str
    completed_on: str
    valid_until: str
    credential_id: str
    short_id: str
    kid: str
    alignments: tuple[str, ...]
    legal_basis: tuple[str, ...]
    instance_name: str
    # How competence was assessed, one line per OB 3.0 evidence item of the signed credential.
    assessed: tuple[str, ...] = ()


def _date(value: datetime | None) -> str:
    return value.strftime("%-d %B %Y") if value is not None else "Does not expire"


def _completed(subject: dict[str, object]) -> datetime | None:
    value = subject.get("activityEndDate")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None


def certificate_context(cred: IssuedCredential, instance_name: str) -> CertificateContext:
    doc = cred.credential_json
    subject = doc["credentialSubject"]
    achievement = subject["achievement"]
    alignments = tuple(
        f"{a.get('targetFramework', '')}: {a['targetName']}".strip(": ")
        for a in achievement.get("alignment", [])
    )
    module = cred.module
    # Instruments only: the module page gives each provision; the certificate stays short.
    legal = tuple(c["instrument"] for c in module.legal_basis)
    names = [i["identityHash"] for i in subject["identifier"] if i["identityType"] == "name"]
    return CertificateContext(
        learner_name=names[0] if names else "",
        achievement_name=achievement["name"],
        module_code=module.code,
        module_version=str(module.version),
        issuer_name=doc["issuer"]["name"],
        issuer_id=doc["issuer"]["id"],
        completed_on=_date(_completed(subject) or cred.issued_at),
        valid_until=_date(cred.valid_until),
        credential_id=cred.credential_id,
        short_id=cred.short_id,
        kid=cred.kid,
        alignments=alignments,
        legal_basis=legal,
        instance_name=instance_name,
        assessed=tuple(a.summary for a in assessments_of(doc)),
    )


_fonts = threading.local()


def _font_config() -> FontConfiguration:
    """One font configuration per thread, reused: building it costs more than laying out a page."""
    config: FontConfiguration | None = getattr(_fonts, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _fonts.config = FontConfiguration()
    return config


def qr_image(cred: IssuedCredential) -> bytes | None:
    """The credential's QR code as PNG, encoded on first use and kept with the credential."""
    if not cred.qr_text:
        return None
    if cred.qr_png is None:
        # 2 px per module: CSS scales it up with image-rendering: pixelated, so it stays sharp
        cred.qr_png = qr_png(cred.qr_text, scale=2)
    return cred.qr_png


def render_certificate(ctx: CertificateContext, cred: IssuedCredential) -> bytes:
    """PDF/A-3b certificate: printed text and QR, with the signed credential attached."""
    from weasyprint import HTML, Attachment

    png = qr_image(cred)
    qr = "data:image/png;base64," + base64.b64encode(png).decode() if png else ""
    html = render_template("certificates/certificate.html", qr_src=qr, **asdict(ctx))
    attachments = [
        Attachment(
            string=cred.token,
            name="credential.jwt",
            description="Open Badges 3.0 credential, signed as a VC-JWT (ES256)",
            relationship="Source",
        ),
        Attachment(
            string=json.dumps(cred.credential_json, ensure_ascii=False, indent=2),
            name="credential.json",
            description="The same credential as JSON, for reading (the .jwt is the signed copy)",
            relationship="Data",
        ),
    ]
    document = HTML(string=html, url_fetcher=data_only_fetcher(), base_url="data:,")
    pdf = document.write_pdf(
        attachments=attachments, pdf_variant="pdf/a-3b", font_config=_font_config()
    )
    assert pdf is not None  # noqa: S101  (write_pdf without a target returns bytes)
    return pdf
