"""A truncated image is refused even when Pillow is told to load truncated images.

Importing WeasyPrint sets PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True for the whole process, so
inside the LMS the verifier must not rely on Pillow's default.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from credentials import UnreadableInput, qr_png, read_qr_image


@pytest.fixture
def truncated_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)


@pytest.mark.usefixtures("truncated_allowed")
def test_truncated_png_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    path.write_bytes(qr_png("CC1:ABC", scale=8)[:200])
    with pytest.raises(UnreadableInput) as exc:
        read_qr_image(path)
    assert exc.value.code == "image_damaged"


@pytest.mark.usefixtures("truncated_allowed")
def test_truncated_jpeg_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(qr_png("CC1:ABC", scale=8))).convert("RGB").save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(UnreadableInput) as exc:
        read_qr_image(path)
    assert exc.value.code == "image_damaged"
