"""The SMTP and POP3 servers' live data (lab/servers/live.py): the mail folder they
share, as a MailView, and the command that reads one stored message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.mail import MailStore, MailView
from lab.model import Outcome
from lab.servers.live import failed


def view(backend: Any) -> MailView:
    """The folder, domain, password, every stored message of a mail backend, what it
    turned away, its student passwords and, for SMTP, whether it requires AUTH and
    its caps."""
    store: MailStore = backend.store
    limits = getattr(backend, "limits", None)
    return MailView(root=str(store.root), domain=str(getattr(backend, "domain", "")),
                    password=str(getattr(backend, "password", "")),
                    messages=tuple(store.everything()),
                    auth=bool(backend.auth) if hasattr(backend, "auth") else None,
                    refused=backend.refusals.view(), students=backend.logins.view(),
                    caps=limits.caps.view() if limits is not None else ())


def watch(backend: Any, changed: Callable[[], None]) -> Callable[[], None]:
    """Call ``changed`` after each delivery and deletion in the mail folder, and after
    each refusal."""
    store: MailStore = backend.store
    stops = (store.watch(lambda _event: changed()), backend.refusals.watch(changed))

    def stop() -> None:
        for each in stops:
            each()

    return stop


async def do(backend: Any, verb: str, args: tuple[str, ...]) -> Outcome:
    """``read MAILBOX KEY``: one stored message, its wire form in ``values["raw"]``."""
    if verb != "read" or len(args) != 2:
        return failed(f"a mail server takes 'read MAILBOX KEY', not {verb!r}")
    mailbox, key = args
    store: MailStore = backend.store
    try:
        raw = store.read(mailbox, key)
    except (KeyError, OSError, ValueError):
        return failed(f"That message is gone from mailbox {mailbox}.")
    return Outcome(f"{len(raw)} bytes", {"ok": True, "raw": raw,
                                         "text": raw.decode("utf-8", "replace")})
