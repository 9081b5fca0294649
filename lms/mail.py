"""Outgoing e-mail through a real SMTP server (stdlib smtplib), set in configuration.

Configuration (lms/config.py): `LMS_SMTP_HOST`, `LMS_SMTP_PORT` (default 25), `LMS_SMTP_USER`
and `LMS_SMTP_PASSWORD` (log in only when a user is set), `LMS_SMTP_STARTTLS` (upgrade the
connection with STARTTLS before logging in; always use it when a password is sent over a
network), `LMS_SMTP_FROM` (the From header). With no host set nothing can be sent and every
send raises `MailError` saying so: callers record the failure and try again later.

Every message has a plain-text body and a simple HTML alternative built from the same
paragraphs. Logs name the subject and the recipient's domain only: never a password, a
recipient's full address or a link (set-password links are secrets).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Protocol

from markupsafe import escape

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 20


class MailError(Exception):
    """A message could not be handed to the SMTP server. The text is safe to log and show.

    `permanent`: the server refused this message for good (a 5xx reply about the message or
    its recipient); trying again will not help. Anything else (no server set up, the server
    unreachable, a 4xx "try later", a refused login) may pass once the cause is fixed.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def compose(
    to: str,
    subject: str,
    paragraphs: Sequence[str],
    *,
    items: Sequence[str] = (),
    link: Link | None = None,
    after: Sequence[str] = (),
    lang: str = "en",
) -> Message:
    """A message from plain paragraphs, an optional bullet list and an optional link.

    `lang` is the language it is written in (the HTML part says so, for screen readers).

    The HTML alternative escapes everything it is given: names and module titles come from
    users and files.
    """
    text_parts = [*paragraphs]
    if items:
        text_parts.append("\n".join(f"- {item}" for item in items))
    if link is not None:
        text_parts.append(f"{link.label}:\n{link.url}")
    text_parts.extend(after)
    text = "\n\n".join(text_parts) + "\n"

    html_parts = [f"<p>{escape(p)}</p>" for p in paragraphs]
    if items:
        html_parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
    if link is not None:
        html_parts.append(f'<p><a href="{escape(link.url)}">{escape(link.label)}</a></p>')
    html_parts.extend(f"<p>{escape(p)}</p>" for p in after)
    html = (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>"
        '<body style="font-family:Arial,sans-serif;font-size:16px;line-height:1.5">'
        + "".join(html_parts)
        + "</body></html>"
    )
    return Message(to=to, subject=subject, text=text, html=html)


class Mailer(Protocol):
    def send(self, message: Message) -> None:
        """Hand one message to the mail server, or raise MailError."""


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "?"


def _quit(smtp: smtplib.SMTP) -> None:
    """Close politely; a server that already hung up changes nothing (the message is sent)."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


@dataclass
class SmtpMailer:
    host: str
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    sender: str = "CareCred <no-reply@localhost>"
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    _held: smtplib.SMTP | None = field(default=None, init=False, repr=False, compare=False)
    _holding: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpMailer:
        return cls(
            host=str(config.get("SMTP_HOST") or ""),
            port=int(config.get("SMTP_PORT") or 25),
            user=str(config.get("SMTP_USER") or ""),
            password=str(config.get("SMTP_PASSWORD") or ""),
            starttls=bool(config.get("SMTP_STARTTLS")),
            sender=str(config.get("SMTP_FROM") or "CareCred <no-reply@localhost>"),
        )

    def build(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
        email["Message-ID"] = make_msgid(domain=domain)
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office loops
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        return email

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _error(self, err: Exception, message: Message) -> MailError:
        """A plain message for what went wrong: never the password, never the full address."""
        where = f"{self.host}:{self.port}"
        if isinstance(err, smtplib.SMTPAuthenticationError):
            return MailError(
                f"The mail server {where} refused the login (SMTP {err.smtp_code}). "
                "Check LMS_SMTP_USER and LMS_SMTP_PASSWORD."
            )
        if isinstance(err, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in err.recipients.values()]
            return MailError(
                f"The mail server refused the recipient at {_domain(message.to)}"
                + (f" (SMTP {codes[0]})." if codes else "."),
                permanent=bool(codes) and all(code >= 500 for code in codes),
            )
        if isinstance(err, smtplib.SMTPResponseException):
            return MailError(
                f"The mail server {where} refused the message (SMTP {err.smtp_code}).",
                permanent=err.smtp_code >= 500,
            )
        return MailError(f"Could not reach the mail server {where} ({type(err).__name__}).")

    def _drop(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            _quit(held)

    @contextmanager
    def kept_open(self) -> Iterator[SmtpMailer]:
        """A mailer that reuses one connection for every send() inside the block.

        It is a copy: this mailer stays connection-free, so runs in other threads that share
        it each get their own connection.
        """
        held = replace(self)
        held._holding = True
        try:
            yield held
        finally:
            held._holding = False
            held._drop()

    def send(self, message: Message) -> None:
        if not self.host:
            raise MailError("No mail server is set up (LMS_SMTP_HOST is empty).")
        email = self.build(message)
        # A held connection may have been closed by the server while idle: one fresh retry.
        for attempt in (1, 2):
            reused = self._held is not None
            try:
                smtp = self._held if self._held is not None else self._connect()
                try:
                    refused = smtp.send_message(email)
                finally:
                    if self._holding:
                        self._held = smtp
                    else:
                        _quit(smtp)
            except smtplib.SMTPRecipientsRefused as err:
                raise self._error(err, message) from None
            except smtplib.SMTPResponseException as err:
                if self._holding and err.smtp_code == 421:  # the server is closing
                    self._drop()
                raise self._error(err, message) from None
            except (OSError, smtplib.SMTPException) as err:
                self._drop()
                if reused and attempt == 1:
                    continue
                raise self._error(err, message) from None
            break
        if refused:
            raise MailError(f"The mail server refused the recipient at {_domain(message.to)}.")
        log.info("mail sent: %r to a recipient at %s", message.subject, _domain(message.to))


@dataclass
class MemoryMailer:
    """Keeps messages in a list instead of sending them (demo runs, dry runs)."""

    sent: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> None:
        self.sent.append(message)


@contextmanager
def kept_open(mailer: Mailer) -> Iterator[Mailer]:
    """One SMTP connection for a run of sends, where the mailer supports it."""
    keep = getattr(mailer, "kept_open", None)
    if keep is None:
        yield mailer
        return
    with keep() as held:
        yield held


def mailer_for(app: Any) -> Mailer:
    """The app's mailer: `app.extensions["mailer"]` if set, else SMTP from configuration."""
    custom = app.extensions.get("mailer")
    if custom is not None:
        return custom  # type: ignore[no-any-return]
    return SmtpMailer.from_config(app.config)
