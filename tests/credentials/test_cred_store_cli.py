"""The trust store and the new command-line inputs: `trust add/list/remove`, status lines,
QR photos and text, passports, --qr and --max-status-age-days."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from credentials import (
    TrustListError,
    TrustStore,
    build_passport,
    encode_qr,
    key_thumbprint,
    qr_png,
)
from credentials.__main__ import main
from credentials.store import default_store_dir

NOW = "2026-11-20T12:00:00Z"


@pytest.fixture
def v2_file(kit: Any, tmp_path: Path) -> Path:
    path = tmp_path / "trust-v2.json"
    path.write_text(kit.TRUST_V2_TEXT)
    return path


@pytest.fixture
def status_token_file(kit: Any, tmp_path: Path) -> Path:
    path = tmp_path / "status.jwt"
    path.write_text(kit.make_token(status=kit.entry_a(21)))
    return path


def _verify(*args: str | Path, now: str = NOW) -> list[str]:
    return ["verify", *map(str, args), "--now", now]


# --------------------------------------------------------------------------- store


def test_store_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARECRED_TRUST_STORE", str(tmp_path / "explicit"))
    assert default_store_dir() == tmp_path / "explicit"
    monkeypatch.delenv("CARECRED_TRUST_STORE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_store_dir() == tmp_path / "xdg" / "carecred" / "trust"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_dir() == tmp_path / "home" / ".config" / "carecred" / "trust"


def test_trust_add_list_remove(
    kit: Any, v2_file: Path, _isolated_trust_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trust", "list"]) == 0
    assert "No trust lists are kept" in capsys.readouterr().out

    assert main(["trust", "add", str(v2_file), "--anchor", kit.ANCHOR, "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "CareCred test trust list v2" in out
    stored = _isolated_trust_store / f"{kit.ANCHOR}.json"
    assert stored.read_text() == kit.TRUST_V2_TEXT  # kept unchanged
    if os.name == "posix":
        assert stat.S_IMODE(_isolated_trust_store.stat().st_mode) == 0o700

    assert main(["trust", "list", "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "CareCred test trust list v2",
        f"  Root:        {kit.ANCHOR}",
        "  Issued:      4 November 2026",
        "  Valid until: 1 November 2027",
        "  Issuers:     Oakview Care Ltd; Riverside Homecare",
        "  Status lists: 4, as of 3 November 2026",
    ]

    assert main(["trust", "remove", kit.ANCHOR]) == 0
    assert not stored.exists()
    assert main(["trust", "remove", kit.ANCHOR]) == 2
    assert "no stored trust list" in capsys.readouterr().err


def test_trust_add_refuses_what_does_not_verify(
    kit: Any,
    v2_file: Path,
    tmp_path: Path,
    _isolated_trust_store: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = key_thumbprint(kit.OTHER_ROOT)
    assert main(["trust", "add", str(v2_file), "--anchor", other, "--now", NOW]) == 2
    assert "not signed by the trusted root key" in capsys.readouterr().err
    assert main(["trust", "add", str(tmp_path / "none.json"), "--anchor", kit.ANCHOR]) == 2
    assert main(["trust", "add", str(v2_file), "--anchor", "../../etc/passwd"]) == 2
    assert not _isolated_trust_store.exists() or not any(_isolated_trust_store.iterdir())


def test_trust_add_refuses_an_older_list(kit: Any, tmp_path: Path) -> None:
    """Rolling back could re-admit a key later marked compromised."""
    store = TrustStore()
    store.add(kit.TRUST_V2_TEXT, kit.ANCHOR, kit.NOW)  # issued 4 November
    with pytest.raises(TrustListError) as info:
        store.add(kit.TRUST_TEXT, kit.ANCHOR, kit.NOW)  # issued 1 November
    assert info.value.code == "trust_list_older"
    assert store.load_all(kit.NOW)[0].name == "CareCred test trust list v2"
    newer = kit.make_trust_v2_text(issued_at=kit.NOW)
    store.add(newer, kit.ANCHOR, kit.NOW)
    assert store.anchors() == [kit.ANCHOR]


def test_several_roots_side_by_side(
    kit: Any, tmp_path: Path, status_token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = TrustStore()
    other_text = kit.make_trust_text(issuers=(kit.TRUSTED_ISSUERS[1],), root=kit.OTHER_ROOT)
    store.add(other_text, key_thumbprint(kit.OTHER_ROOT), kit.NOW)
    riverside = tmp_path / "riverside.jwt"
    riverside.write_text(kit.make_token(kit.B_KEY, issuer=kit.ISSUER_B))
    assert main(_verify(riverside)) == 0
    assert main(_verify(status_token_file)) == 1  # only Riverside is trusted so far
    capsys.readouterr()
    store.add(kit.TRUST_V2_TEXT, kit.ANCHOR, kit.NOW)
    assert main(_verify(riverside, status_token_file, "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["reason_code"] for d in data] == ["valid", "valid"]
    assert data[1]["status_checked"] is True


def test_verify_without_any_trust_list(
    kit: Any, status_token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_verify(status_token_file)) == 2
    assert "no trust list to check against" in capsys.readouterr().err
    # --trust without --anchor (and the reverse) is a usage error
    assert main(_verify(status_token_file, "--trust", "t.json")) == 2
    assert main(_verify(status_token_file, "--anchor", kit.ANCHOR)) == 2


def test_expired_stored_list_is_reported(
    kit: Any, status_token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    TrustStore().add(kit.TRUST_V2_TEXT, kit.ANCHOR, kit.NOW)
    assert main(_verify(status_token_file, now="2028-01-01")) == 2
    err = capsys.readouterr().err
    assert f"the stored trust list {kit.ANCHOR} cannot be used" in err and "expired" in err
    assert main(["trust", "list", "--now", "2028-01-01"]) == 0
    assert "cannot be used" in capsys.readouterr().out


# --------------------------------------------------------------------------- output


def test_human_output_with_status_and_identifiers(
    kit: Any, v2_file: Path, status_token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _verify(status_token_file, "--trust", v2_file, "--anchor", kit.ANCHOR)
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{status_token_file}: VALID"
    assert "  Issuer identifiers: CQC provider ID 1-101010101" in lines
    assert "  Status:      not revoked, as of 3 November 2026" in lines
    assert not any("Warning" in line for line in lines)


def test_human_output_revoked(
    kit: Any, tmp_path: Path, status_token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stapled = kit.default_status_tokens(revoked_a=[21])
    trust_file = tmp_path / "revoked-trust.json"
    trust_file.write_text(kit.make_trust_v2_text(stapled=stapled))
    assert main(_verify(status_token_file, "--trust", trust_file, "--anchor", kit.ANCHOR)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{status_token_file}: NOT VALID \N{EM DASH} This certificate has")
    assert "  Issued to:   Amira Okafor" in lines
    assert "  Status:      revoked, as of 3 November 2026" in lines


def test_stale_and_missing_status_warnings(
    kit: Any,
    v2_file: Path,
    trust_file: Path,
    status_token_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _verify(
        status_token_file, "--trust", v2_file, "--anchor", kit.ANCHOR, now="2026-12-18T09:00:00Z"
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (
        "  Warning:     The revocation information is 45 days old (from 3 November 2026); ask "
        "the issuer for a newer trust list." in out
    )
    assert main([*args, "--max-status-age-days", "60"]) == 0
    assert "expired on 3 December 2026" in capsys.readouterr().out
    # a version 1 trust list has no status lists: still valid, with a warning
    assert main(_verify(status_token_file, "--trust", trust_file, "--anchor", kit.ANCHOR)) == 0
    out = capsys.readouterr().out
    assert "  Warning:     Revocation status could not be checked" in out
    assert "Status:" not in out
    assert main([*args, "--max-status-age-days", "-1"]) == 2


# --------------------------------------------------------------------------- new inputs


def test_qr_inputs(
    kit: Any, v2_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = encode_qr(kit.make_credential(status=kit.entry_a(5)), kit.A_NEW)
    png = tmp_path / "scan.png"
    png.write_bytes(qr_png(text))
    txt = tmp_path / "qr.txt"
    txt.write_text(text + "\n")
    trust = ["--trust", str(v2_file), "--anchor", kit.ANCHOR]
    assert main(_verify(png, txt, *trust, "--qr", text, "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["source"] for d in data] == [str(png), str(txt), "--qr"]
    assert all(d["valid"] and d["status_checked"] for d in data)
    # --qr alone, human output
    assert main(["verify", *trust, "--qr", text, "--now", NOW]) == 0
    assert capsys.readouterr().out.startswith("--qr: VALID\n")
    # a forged QR
    forged = encode_qr(kit.make_credential(), kit.ATTACKER)
    assert main(["verify", *trust, "--qr", forged, "--now", NOW]) == 1
    # a photo without a QR code cannot be read
    from PIL import Image

    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (300, 200), (250, 250, 250)).save(blank)
    assert main(_verify(blank, *trust)) == 2
    assert "No QR code was found" in capsys.readouterr().err
    # nothing to verify at all
    assert main(["verify", *trust]) == 2


def test_passport_input(
    kit: Any, v2_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = kit.make_token(status=kit.entry_a(8))
    bad = kit.replace_segment(kit.make_token(), 1, lambda p: p.replace(b"Amira", b"Amina"))
    passport = tmp_path / "passport.json"
    passport.write_text(build_passport("Amira Okafor", [good, bad], [], kit.NOW))
    assert main(_verify(passport, "--trust", v2_file, "--anchor", kit.ANCHOR)) == 1
    out = capsys.readouterr().out
    assert f"{passport}#1: VALID" in out
    assert f"{passport}#2: NOT VALID" in out


def test_a_thumbprint_starting_with_a_dash_is_a_value_not_an_option(
    kit: Any, v2_file: Path, _isolated_trust_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Base64url thumbprints start with "-" one time in 64; argparse must not take them as flags."""
    from credentials.__main__ import _glue_option_values

    assert _glue_option_values(["verify", "x.jwt", "--anchor", "-abc"]) == [
        "verify",
        "x.jwt",
        "--anchor=-abc",
    ]
    assert _glue_option_values(["trust", "remove", "-abc"]) == ["trust", "remove", "--", "-abc"]
    # and end to end: an unknown dash-led anchor is refused for what it is, not as a usage error
    assert main(["trust", "add", str(v2_file), "--anchor", "-" + "A" * 42, "--now", NOW]) == 2
    err = capsys.readouterr().err
    assert "expected one argument" not in err
    assert main(["trust", "remove", "-" + "A" * 42]) == 2
    assert "no stored trust list has root" in capsys.readouterr().err
