"""lms.mail against a real SMTP server: login, refusals, and no secrets in errors or logs."""

from __future__ import annotations

import logging
import socket

import pytest

from lms.mail import MailError, SmtpMailer, compose, kept_open
from tests.lms.smtp_server import smtp_server

SECRET = "s3cret-smtp-password-value"
# The test server takes AUTH without TLS (a local socket); aiosmtpd rightly warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def our_logs(caplog: pytest.LogCaptureFixture) -> str:
    """What lms logged (the test server logs the whole conversation itself)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("lms"))


def message() -> object:
    return compose("amira@example.com", "Your training", ["Hello Amira,"], items=["Fire safety"])


def test_sends_with_login_plain_text_and_html(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with smtp_server(login=("carecred", SECRET)) as sink:
        mailer = SmtpMailer(
            host="127.0.0.1",
            port=sink.port,
            user="carecred",
            password=SECRET,
            sender="CareCred <no-reply@lms.example.test>",
        )
        mailer.send(message())  # type: ignore[arg-type]
        [received] = sink.received
    assert received.envelope_to == ["amira@example.com"]
    assert received.message["From"] == "CareCred <no-reply@lms.example.test>"
    assert received.message["Auto-Submitted"] == "auto-generated"
    assert received.message["Message-ID"].endswith("@lms.example.test>")
    assert "- Fire safety" in received.text()
    assert "<li>Fire safety</li>" in received.html()
    logged = our_logs(caplog)
    assert SECRET not in logged and "amira@" not in logged
    assert "example.com" in logged  # the recipient's domain only


def test_a_refused_login_names_the_settings_not_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with smtp_server(login=("carecred", SECRET)) as sink:
        mailer = SmtpMailer(
            host="127.0.0.1", port=sink.port, user="carecred", password="wrong-" + SECRET
        )
        with pytest.raises(MailError) as caught:
            mailer.send(message())  # type: ignore[arg-type]
        assert sink.received == []
    text = str(caught.value)
    assert "refused the login" in text and "LMS_SMTP_USER and LMS_SMTP_PASSWORD" in text
    assert SECRET not in text and SECRET not in caplog.text  # nor in the server's own log
    assert SECRET not in repr(mailer)


def test_login_required_but_not_configured() -> None:
    with (
        smtp_server(login=("carecred", SECRET)) as sink,
        pytest.raises(MailError, match="refused the message"),
    ):
        SmtpMailer(host="127.0.0.1", port=sink.port).send(message())  # type: ignore[arg-type]


def test_no_host_configured() -> None:
    with pytest.raises(MailError, match="LMS_SMTP_HOST is empty"):
        SmtpMailer(host="").send(message())  # type: ignore[arg-type]


def test_from_config_reads_the_lms_settings() -> None:
    mailer = SmtpMailer.from_config(
        {
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": 587,
            "SMTP_USER": "u",
            "SMTP_PASSWORD": "p",
            "SMTP_STARTTLS": True,
            "SMTP_FROM": "X <x@example.org>",
        }
    )
    assert (mailer.host, mailer.port, mailer.user, mailer.starttls, mailer.sender) == (
        "smtp.example.org",
        587,
        "u",
        True,
        "X <x@example.org>",
    )


def test_kept_open_reuses_one_connection_and_survives_a_refusal() -> None:
    with smtp_server() as sink:
        mailer = SmtpMailer(host="127.0.0.1", port=sink.port)
        with kept_open(mailer) as held:
            held.send(message())  # type: ignore[arg-type]
            sink.fail_with = "451 4.3.0 try later"
            with pytest.raises(MailError, match="SMTP 451"):
                held.send(message())  # type: ignore[arg-type]
            sink.fail_with = None
            held.send(message())  # type: ignore[arg-type]
        assert (len(sink.received), sink.connections) == (2, 1)
        assert held._held is None and mailer._held is None  # closed at the end of the block
        mailer.send(message())  # type: ignore[arg-type]
        mailer.send(message())  # type: ignore[arg-type]
        assert sink.connections == 3  # without the block: one connection per message


def test_kept_open_reconnects_when_the_server_hung_up() -> None:
    with smtp_server() as sink:
        mailer = SmtpMailer(host="127.0.0.1", port=sink.port)
        with kept_open(mailer) as held:
            held.send(message())  # type: ignore[arg-type]
            assert isinstance(held, SmtpMailer) and held._held is not None
            # The idle connection is gone (as when a server times it out).
            held._held.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
            held.send(message())  # type: ignore[arg-type]
        assert (len(sink.received), sink.connections) == (2, 2)
