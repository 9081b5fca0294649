"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the e-mail tests, capturing what it receives.

Ports 5500-5509 are this suite's; the first free one is used. `fail_with` makes the server
refuse messages (e.g. "451 4.3.0 try again later") until it is cleared.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

PORTS = range(5500, 5510)


@dataclass
class Received:
    envelope_to: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())


@dataclass
class Sink:
    received: list[Received] = field(default_factory=list)
    fail_with: str | None = None
    port: int = 0
    connections: int = 0  # EHLO greetings seen: one per SMTP connection

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_with:
            return self.fail_with
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.envelope_to]

    def clear(self) -> None:
        self.received.clear()
        self.connections = 0


def _free_port() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As asyncio's server does: connections in TIME_WAIT do not block the port.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 5500-5509 for the test SMTP server")


def _authenticator(user: str, password: str) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == user.encode()
            and data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


@contextmanager
def smtp_server(login: tuple[str, str] | None = None) -> Iterator[Sink]:
    """The server; with `login`, it requires AUTH with that user and password (no TLS here)."""
    sink = Sink()
    sink.port = _free_port()
    extra: dict[str, Any] = {}
    if login is not None:
        extra = {
            "authenticator": _authenticator(*login),
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **extra)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def smtp_config(sink: Sink) -> dict[str, Any]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": sink.port,
        "SMTP_FROM": "CareCred test <no-reply@lms.example.test>",
    }
