"""The command line: `python -m credentials verify ...` / `carecred-verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from credentials.__main__ import main


def _args(
    kit: Any,
    trust_file: Path,
    *paths: Path | str,
    now: str = "2026-11-20T12:00:00Z",
    json_out: bool = False,
) -> list[str]:
    args = [
        "verify",
        *map(str, paths),
        "--trust",
        str(trust_file),
        "--anchor",
        kit.ANCHOR,
        "--now",
        now,
    ]
    if json_out:
        args.append("--json")
    return args


def test_valid_exit_0_and_human_output(
    kit: Any, trust_file: Path, tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = kit.make_pdf(tmp_path / "certificate.pdf", {"credential.jwt": token})
    assert main(_args(kit, trust_file, pdf)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        f"{pdf}: VALID",
        "  Issued by:   Oakview Care Ltd (https://lms.example.test/issuers/oakview)",
        "  Issued to:   Amira Okafor",
        "  For:         Health and safety awareness (version 1)",
        "  Aligned to:  ASC-WDS training category: Health and safety awareness; "
        "Care Certificate (2025): Standard 13",
        "  Completed:   12 November 2026",
        "  Valid until: 12 November 2029",
        "  Reference:   urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e",
    ]


def test_not_valid_exit_1(
    kit: Any,
    trust_file: Path,
    tmp_path: Path,
    token: str,
    token_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tampered = tmp_path / "tampered.jwt"
    tampered.write_text(kit.replace_segment(token, 1, lambda p: p.replace(b"Amira", b"Amina")))
    assert main(_args(kit, trust_file, token_file, tampered)) == 1
    out, _ = capsys.readouterr()
    assert f"{token_file}: VALID" in out
    assert f"{tampered}: NOT VALID \N{EM DASH} This certificate has been changed" in out
    assert "Amina" not in out


def test_expired_shows_details(
    kit: Any, tmp_path: Path, token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust_file = tmp_path / "lasting-trust.json"
    trust_file.write_text(kit.make_trust_text(valid_until=None))
    assert main(_args(kit, trust_file, token_file, now="2030-01-01")) == 1
    out, _ = capsys.readouterr()
    assert "NOT VALID \N{EM DASH} This certificate expired on 12 November 2029" in out
    assert "Issued to:   Amira Okafor" in out


def test_json_output_shape(
    kit: Any, trust_file: Path, token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(kit, trust_file, token_file, json_out=True)) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert isinstance(data, list) and len(data) == 1
    item = data[0]
    assert list(item) == [
        "source",
        "valid",
        "reason_code",
        "reason",
        "credential_id",
        "issuer",
        "issuer_id",
        "learner_name",
        "achievement",
        "achievement_id",
        "alignments",
        "valid_from",
        "valid_until",
        "status_checked",
        "status_as_of",
        "warnings",
        "issuer_identifiers",
        "assessments",
    ]
    assert item["valid"] is True and item["reason_code"] == "valid"
    assert item["source"] == str(token_file)
    assert item["issuer"] == "Oakview Care Ltd"
    assert item["valid_until"] == "2029-11-12T14:30:05Z"


def test_json_several_inputs_and_unreadable(
    kit: Any,
    trust_file: Path,
    tmp_path: Path,
    token_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "missing.pdf"
    assert main(_args(kit, trust_file, token_file, missing, json_out=True)) == 2
    out, err = capsys.readouterr()
    data = json.loads(out)  # stdout is only the JSON array
    assert [d["reason_code"] for d in data] == ["valid", "unreadable"]
    assert data[1]["source"] == str(missing) and data[1]["valid"] is False
    assert f"{missing}: CANNOT READ" in err


def test_unreadable_input_exit_2(
    kit: Any, trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = kit.make_pdf(tmp_path / "plain.pdf")
    assert main(_args(kit, trust_file, plain)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "no credential.jwt attachment" in err


def test_bad_trust_list_exit_2(
    kit: Any,
    trust_file: Path,
    tmp_path: Path,
    token_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # wrong anchor
    args = _args(kit, trust_file, token_file, json_out=True)
    args[args.index("--anchor") + 1] = "A" * 43
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and "not signed by the trusted root key" in err
    # expired trust list
    assert main(_args(kit, trust_file, token_file, now="2028-01-01")) == 2
    assert "expired" in capsys.readouterr().err
    # missing trust file
    assert main(_args(kit, tmp_path / "none.json", token_file)) == 2
    assert "does not exist" in capsys.readouterr().err
    # a trust file that is not a trust list
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    assert main(_args(kit, junk, token_file)) == 2


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["verify"],
        ["verify", "x.pdf"],  # no --trust/--anchor
        ["verify", "x.pdf", "--trust", "t.json"],
        ["verify", "x.pdf", "--trust", "t.json", "--anchor", "a", "--now", "not-a-date"],
        ["frobnicate", "--trust"],
    ],
)
def test_bad_usage_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err


def test_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert main(["verify", "--help"]) == 0
    assert "--anchor" in capsys.readouterr().out


def test_verify_subcommand_is_implied(
    kit: Any, trust_file: Path, token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(kit, trust_file, token_file)[1:]
    assert main(args) == 0
    assert "VALID" in capsys.readouterr().out


def test_now_defaults_to_current_time(
    kit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --now the real clock is used: this trust list (2026-11-01..2027-11-01) is
    either current or expired, so the outcome depends on today's date; both must be clean."""
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(kit.make_trust_text(valid_until=None))
    token_file = tmp_path / "c.jwt"
    token_file.write_text(kit.make_token(valid_until=None))
    code = main(["verify", str(token_file), "--trust", str(trust_file), "--anchor", kit.ANCHOR])
    assert code in (0, 1)
    out = capsys.readouterr().out
    assert out.startswith(f"{token_file}: ")


def test_runs_without_flask_or_sqlalchemy(kit: Any, trust_file: Path, token_file: Path) -> None:
    """The offline verifier must work on a machine with neither Flask nor SQLAlchemy."""
    program = textwrap.dedent(
        """
        import sys
        for blocked in ("flask", "sqlalchemy", "flask_sqlalchemy", "werkzeug", "weasyprint"):
            sys.modules[blocked] = None
        from credentials.__main__ import main
        code = main(sys.argv[1:])
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("lms", "courses"))
        assert not loaded, loaded
        sys.exit(code)
        """
    )
    args = _args(kit, trust_file, token_file, json_out=True)
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    [item] = json.loads(done.stdout)
    assert item["valid"] is True


def test_python_dash_m_entry_point(kit: Any, trust_file: Path, token_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "credentials", *_args(kit, trust_file, token_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{token_file}: VALID")
