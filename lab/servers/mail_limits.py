"""The SMTP server's limits, and its delivery off the event loop.

One message to thousands of made-up recipients would fill the disk (a copy and a
new Maildir each) and, written on the event loop, stall every other connection.
So the server caps, per its options (shown in its panel):

    max_recipients     RCPTs in one message (default 20): beyond it ``452 4.5.3``,
                       RFC 5321 §4.5.3.1.10's answer; the client may send the rest
                       in another transaction (smtplib takes the accepted ones).
                       RFC 5321 §4.5.3.1.8 has a server buffer at least 100; a
                       classroom's mail needs far fewer, and the option raises it.
    max_new_mailboxes  mailboxes one client address may make, over the server's
                       life (default 20): a RCPT to a mailbox that does not exist
                       yet, beyond it, gets ``452 4.3.1`` (RFC 5321 §4.2.2 "insufficient
                       system storage", RFC 3463 X.3.1 "mail system full": storage
                       for new mailboxes from that address is used up, a transient
                       answer, since the teacher may raise the cap or restart).
    max_folder_mb      the mail folder's size on disk in MiB (default 100; a message
                       takes whole 4 KiB blocks, so a flood of tiny ones counts as what
                       it takes, not its few bytes): a message whose
                       copies would take the folder over it gets ``452 4.3.1``
                       after the data (RFC 5321 §4.2.2: not enough storage *now*;
                       it fits once mail is read and deleted with POP3), and one
                       whose copies could never fit, not even in an empty folder,
                       ``552 5.3.4`` (RFC 5321 §4.2.2 "exceeded storage
                       allocation", RFC 3463 X.3.4 "message too big for system": a
                       permanent answer, retrying cannot help).

Each refusal is counted in the server's ``Refusals`` (its panel's "Turned away"
line); the reply itself is in the capture. The copies are written in a worker
thread, holding the store's ``writing`` lock (one delivery at a time), and the
store's watchers hear of each copy back on the loop. A copy that cannot be written
(a full disk) takes back the ones written before it: ``452 4.3.1`` or ``451 4.3.0``
(RFC 5321 §4.2.2, §4.5.3.1.10), never a half-delivered message or a path.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lab import peers
from lab.mail import MailEvent, MailStore
from lab.servers.guard import Refusals

log = logging.getLogger(__name__)
#: The thread that writes mail, one delivery at a time: deliveries queue here, not in
#: the loop's shared executor (which serves the HTTP server's file reads too).
_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cslab-mail")

DEFAULT_MAX_RECIPIENTS = 20
DEFAULT_MAX_NEW_MAILBOXES = 20
DEFAULT_MAX_FOLDER_MB = 100
#: The largest value each cap takes (a typo should not turn a cap off).
MOST = {"max_recipients": 10_000, "max_new_mailboxes": 100_000, "max_folder_mb": 1_000_000}
MIB = 1024 * 1024

#: The reasons the SMTP server counts (its panel names them so).
TOO_MANY_RECIPIENTS = "recipients over the cap"
TOO_MANY_MAILBOXES = "new mailboxes over the cap"
FOLDER_FULL = "messages over the mail folder's size"


def cap_option(options: dict[str, str], name: str, default: int) -> int:
    """The cap ``options[name]`` (1 to MOST[name]; absent or empty: ``default``)."""
    text = (options.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= MOST[name]:
        raise ValueError(f"{name} must be a whole number from 1 to {MOST[name]:,}, "
                         f"not {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Caps:
    """The SMTP server's caps, as its options name them."""

    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    max_new_mailboxes: int = DEFAULT_MAX_NEW_MAILBOXES
    max_folder_mb: int = DEFAULT_MAX_FOLDER_MB

    @classmethod
    def from_options(cls, options: dict[str, str]) -> Caps:
        return cls(cap_option(options, "max_recipients", DEFAULT_MAX_RECIPIENTS),
                   cap_option(options, "max_new_mailboxes", DEFAULT_MAX_NEW_MAILBOXES),
                   cap_option(options, "max_folder_mb", DEFAULT_MAX_FOLDER_MB))

    def view(self) -> tuple[tuple[str, int], ...]:
        return (("max_recipients", self.max_recipients),
                ("max_new_mailboxes", self.max_new_mailboxes),
                ("max_folder_mb", self.max_folder_mb))


#: What a file takes on disk at least: a whole block, however small the file.
BLOCK = 4096


def on_disk(size: int) -> int:
    """What a file of ``size`` bytes takes on disk (whole blocks)."""
    return -(-max(size, 1) // BLOCK) * BLOCK


def folder_bytes(root: Path) -> int:
    """What the mail folder ``root`` takes on disk, folders included (in a worker
    thread): many tiny messages take a block each, not their few bytes."""
    total = 0
    for folder, _, files in os.walk(root):
        for path in (folder, *(os.path.join(folder, name) for name in files)):
            try:
                info = os.stat(path)
            except OSError:  # removed meanwhile (a POP3 deletion)
                continue
            total += max(info.st_blocks * 512, on_disk(info.st_size))
    return total


def mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


class MailLimits:
    """The caps at work on one SMTP server: what to refuse, and the delivery."""

    def __init__(self, caps: Caps, store: MailStore, refusals: Refusals) -> None:
        self.caps = caps
        self.store = store
        self.refusals = refusals
        #: The mailboxes each client address made (or was promised by a RCPT).
        self.made: dict[str, set[str]] = {}

    def recipient(self, peer: object, accepted: int, name: str) -> str | None:
        """The refusal of a RCPT to mailbox ``name`` after ``accepted`` recipients in
        this message, from the client behind ``peer``; None to accept it."""
        if accepted >= self.caps.max_recipients:
            self.refusals.count(TOO_MANY_RECIPIENTS)
            return (f"452 4.5.3 Too many recipients: at most {self.caps.max_recipients} "
                    "in one message here; send to the rest in another message")
        host = peers.client_host(peer if isinstance(peer, tuple) else None)
        made = self.made.setdefault(host, set())
        if name in made or self.store.path(name).is_dir():
            return None
        if len(made) >= self.caps.max_new_mailboxes:
            self.refusals.count(TOO_MANY_MAILBOXES)
            return (f"452 4.3.1 Too many new mailboxes: your address may make at most "
                    f"{self.caps.max_new_mailboxes} here; {name} does not exist yet")
        made.add(name)
        return None

    async def deliver(self, copies: Sequence[tuple[str, bytes]], content: bytes) -> str | None:
        """Write each ``(mailbox, trace)`` copy (``trace + content``) in a worker
        thread; None once delivered, else the refusal (the folder's cap)."""
        loop = asyncio.get_running_loop()
        refusal = await loop.run_in_executor(_WRITER, self._write, loop.call_soon_threadsafe,
                                             copies, content)
        if refusal is not None:
            self.refusals.count(FOLDER_FULL)
        return refusal

    def _write(self, on_loop: Callable[..., object], copies: Sequence[tuple[str, bytes]],
               content: bytes) -> str | None:
        cap = self.caps.max_folder_mb * MIB
        size = sum(on_disk(len(trace) + len(content)) for _, trace in copies)
        with self.store.writing:
            if size > cap:
                return (f"552 5.3.4 Message too big for the mail folder: "
                        f"{len(copies)} copies take {mib(size)}, more than its cap of "
                        f"{self.caps.max_folder_mb} MiB")
            held = folder_bytes(self.store.root)
            if held + size > cap:
                return (f"452 4.3.1 Mail folder full: it holds {mib(held)} of its "
                        f"{self.caps.max_folder_mb} MiB and this message needs "
                        f"{mib(size)}; try again once mail is read and deleted")
            events: list[MailEvent] = []
            try:
                for name, trace in copies:
                    events.append(self.store.add(name, trace + content))
            except OSError as exc:  # a full disk, a folder gone: deliver no copy at all
                for event in events:
                    self.store.discard(event.mailbox, event.key)
                log.warning("mail delivery failed: %s", exc)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    return "452 4.3.1 Insufficient system storage: the disk is full"
                return ("451 4.3.0 Local error in processing: the message could not be "
                        "stored; try again later")
            for event in events:
                self._tell(on_loop, event)
        return None

    def _tell(self, on_loop: Callable[..., object], event: MailEvent) -> None:
        try:
            on_loop(self.store.notify, event)
        except RuntimeError:  # the loop is closed: no one is watching any more
            pass
