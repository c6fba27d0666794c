"""The mail composer: sends one message over SMTP with aiosmtplib.

Each send is one SMTP session (connect, EHLO, MAIL, RCPT…, DATA, QUIT), so the
inspector shows the whole conversation every time. It never raises for what
the server or the network says: the result carries the server's reply, the
recipients it refused, or an error sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

import aiosmtplib

from lab.clients import Router, Seen, patience
from lab.model import Outcome, Transport, format_address, parse_address

if TYPE_CHECKING:
    from lab.clients.handle import ClientHandle

TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """How a send went: ``reply`` is the server's last word on the message. As a
    composer's view, ``sent`` counts the messages it has sent so far (this one too)."""

    ok: bool
    reply: str = ""
    refused: tuple[tuple[str, str], ...] = ()  # (recipient, the server's reason)
    error: str = ""
    sent: int = 0


def compose(sender: str, recipients: list[str], subject: str, body: str) -> EmailMessage:
    """The message as a mail program would build it (Date and Message-ID included)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="client.lab.test")
    message.set_content(body)
    return message


def split_recipients(text: str) -> list[str]:
    """``ann@lab.test, bob@lab.test; cy@lab.test`` → the three addresses."""
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class MailSender:
    """Send mail through the lab; ``close`` is a no-op kept for the engine."""

    def __init__(self, route: Router, seen: Seen | None = None) -> None:
        self._route = route
        self._seen = seen

    async def send(
        self,
        server: str,
        sender: str,
        recipients: list[str],
        subject: str,
        body: str,
        *,
        login: tuple[str, str] | None = None,
    ) -> SendResult:
        try:
            host, port = parse_address(server)
        except ValueError as exc:
            return SendResult(ok=False, error=str(exc))
        if not recipients:
            return SendResult(ok=False, error="no recipient: type at least one address in To")
        where = format_address(host, port)
        host, port = await self._route(Transport.TCP, host, port, "smtp")
        smtp = aiosmtplib.SMTP(hostname=host, port=port, timeout=patience(self._route)(TIMEOUT),
                               start_tls=False, local_hostname="client.lab.test")
        try:
            await smtp.connect()
            self._report_local(smtp)
            if login is not None:
                await smtp.login(*login)
            refused, reply = await smtp.send_message(
                compose(sender, recipients, subject, body), sender=sender,
                recipients=recipients)
            await smtp.quit()
        except aiosmtplib.SMTPRecipientsRefused as exc:
            smtp.close()
            return SendResult(ok=False, refused=tuple(
                (r.recipient, f"{r.code} {r.message}") for r in exc.recipients),
                error="the server refused every recipient")
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            return SendResult(ok=False, reply=f"{exc.code} {exc.message}",
                              error=f"{where} said {exc.code} {exc.message}")
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError):
            smtp.close()
            return SendResult(ok=False, error=f"{where} closed the connection: is an SMTP "
                                              "server running there?")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            smtp.close()
            return SendResult(ok=False, error=f"{where}: {exc}")
        # aiosmtplib gives the text of the reply to the message; it was a 250.
        return SendResult(ok=True, reply=f"250 {reply}", refused=tuple(
            (rcpt, f"{r.code} {r.message}") for rcpt, r in refused.items()))

    def _report_local(self, smtp: aiosmtplib.SMTP) -> None:
        local = smtp.get_transport_info("sockname")
        if self._seen is not None and local:
            self._seen(format_address(*local[:2]))

    async def close(self) -> None:
        return None


# ---- actions (panels and lessons alike: see lab/clients/handle.py) ------------------


async def act(handle: ClientHandle, verb: str, args: Sequence[str]) -> Outcome:
    """``send`` (``send mail``): the message the settings describe (from, to, subject,
    body) to the ``server``; the view is the SendResult; ``close`` does nothing."""
    sender: MailSender = handle.obj
    if verb == "close":
        return Outcome("closed")
    if verb != "send":
        return Outcome(f"the mail composer cannot {verb!r}", {"ok": False, "text": ""})
    result = await sender.send(handle.address("server"), handle.setting("from").strip(),
                               split_recipients(handle.setting("to")),
                               handle.setting("subject"), handle.setting("body"))
    handle.memory["sent"] = sent = handle.memory.get("sent", 0) + int(result.ok)
    handle.show(view=replace(result, sent=sent))
    if not result.ok:
        text = result.error or result.reply
        return Outcome(text, {"ok": False, "text": text})
    code = result.reply[:3]
    return Outcome(result.reply, {"ok": True, "text": result.reply,
                                  "reply": int(code) if code.isdigit() else result.reply})
