"""A real SMTP server on 127.0.0.1 (aiosmtpd) for e-mail tests: keeps every message, can refuse the first few."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


class Mailbox:
    def __init__(self, refuse: int = 0) -> None:
        self.messages: list = []
        self.recipients: list[str] = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.refuse > 0:
            self.refuse -= 1
            return "451 try again later"
        from email import message_from_bytes, policy

        self.recipients += envelope.rcpt_tos
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()
