"""The mail store: one real Maildir per mailbox, shared by the SMTP and POP3 servers.

``ann@lab.test`` is mailbox ``ann``: the folder ``ROOT/ann`` with ``cur/``, ``new/``
and ``tmp/``, made on first use, readable by any Maildir program (mutt, Thunderbird
import, ``mailbox.Maildir``). Messages are kept on disk with LF line ends, as Maildir
wants; ``read`` gives them back with CRLF, the form they take on the wire, and
every size here counts that form (what POP3's LIST and STAT report).

``open_store(root)`` gives every server in this process the same store object for
the same folder, so a watcher sees SMTP deliveries and POP3 deletions alike, and a
POP3 maildrop lock holds across servers.
"""

from __future__ import annotations

import builtins
import contextlib
import email.utils
import hashlib
import logging
import mailbox
import os
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from lab.paths import data_dir

log = logging.getLogger(__name__)

MAILBOX_NAME = re.compile(r"[\w+\-][\w.+\-]{0,63}")
_KEY_TIME = re.compile(r"(\d+)\.M(\d+)P\d+Q(\d+)")


class MailboxNameError(ValueError):
    """A mailbox name that could not be a folder inside the store (``..``, ``/``, …)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MailSummary:
    """What a mailbox listing shows of one message.

    ``sender`` is the From header (else the envelope's Return-Path); ``recipients``
    the To and Cc addresses; ``date`` the Date header as written (else the delivery
    time); ``delivered`` the delivery time (epoch seconds); ``size`` the octets of the
    message as ``read`` returns it (CRLF line ends); ``uid`` a stable unique id for
    POP3's UIDL (hex, 32 characters)."""

    mailbox: str
    key: str
    uid: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    date: str
    delivered: float
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MailEvent:
    """One change to a mailbox: ``action`` is ``"delivered"`` or ``"deleted"``;
    ``summary`` describes the message (as it was, for a deletion)."""

    mailbox: str
    key: str
    action: str
    summary: MailSummary


MailListener = Callable[[MailEvent], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class MailView:
    """A running mail server (SMTP or POP3) as its panel shows it: the mail folder
    ``root``, the ``domain`` it takes mail for ("" for POP3), the lab ``password``,
    and every message of every mailbox, oldest delivery first; ``auth`` whether the
    SMTP server requires AUTH before MAIL (None: not said, as for POP3);
    ``refused`` what the server turned away, by reason (lab/servers/guard.py);
    ``students`` the per-student users and passwords to hand out (none: off);
    ``caps`` the SMTP server's limits, (name, value) as its options name them
    (``max_recipients``…; none for POP3)."""

    root: str
    domain: str = ""
    password: str = ""
    messages: tuple[MailSummary, ...] = ()
    auth: bool | None = None
    refused: tuple[tuple[str, int], ...] = ()
    students: tuple[tuple[str, str], ...] = ()
    caps: tuple[tuple[str, int], ...] = ()


def mailbox_for(address: str) -> str:
    """The mailbox name of an address: its local part, lower-cased (``Ann@lab.test`` →
    ``ann``); MailboxNameError if that could not be a mailbox folder."""
    local = address.rpartition("@")[0] if "@" in address else address
    return check_name(local.strip().lower())


def check_name(name: str) -> str:
    """``name`` if it is a safe mailbox folder name, else MailboxNameError."""
    if not MAILBOX_NAME.fullmatch(name) or ".." in name:
        raise MailboxNameError(
            f"{name!r} cannot be a mailbox: use letters, digits, '.', '_', '+' or '-' "
            "(up to 64, not starting with '.')")
    return name


def to_wire(data: bytes) -> bytes:
    """``data`` with every line ending in CRLF (bare LFs become CRLF)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _order(key: str) -> tuple[int, int, int]:
    """Seconds, microseconds and sequence number of a Maildir key made by Python."""
    found = _KEY_TIME.match(key)
    return (0, 0, 0) if found is None else (int(found[1]), int(found[2]), int(found[3]))


def _delivered(box: mailbox.Maildir, key: str) -> float:
    """When message ``key`` was delivered (from its key, else from its file)."""
    seconds, micros, _ = _order(key)
    return seconds + micros / 1e6 if seconds else box.get_message(key).get_date()


def _header(headers: Message, name: str) -> str:
    try:
        value = headers.get(name)
    except (ValueError, TypeError, IndexError):  # a header the parser cannot read
        return ""
    return "" if value is None else " ".join(str(value).split())


def summarize(mailbox_name: str, key: str, wire: bytes, delivered: float) -> MailSummary:
    """The summary of one message given in its wire form."""
    headers = BytesHeaderParser(policy=default_policy).parsebytes(wire)
    recipients = [addr for name in ("To", "Cc")
                  for _, addr in email.utils.getaddresses([_header(headers, name)]) if addr]
    return MailSummary(
        mailbox=mailbox_name,
        key=key,
        uid=hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(),
        sender=_header(headers, "From") or _header(headers, "Return-Path"),
        recipients=tuple(recipients),
        subject=_header(headers, "Subject"),
        date=_header(headers, "Date") or email.utils.formatdate(delivered, localtime=True),
        delivered=delivered,
        size=len(wire),
    )


class MailStore:
    """The mailboxes under ``root``. Call it from one thread (the engine's loop),
    except ``add``: the SMTP server writes its copies in a worker thread (holding
    ``writing``, one delivery at a time) and hands the events to ``notify`` on the
    loop.

    ``watch(callback)`` calls ``callback(MailEvent)`` after each delivery and
    deletion, on the calling thread; it returns the function that stops it. A
    callback that raises is logged and otherwise ignored."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listeners: list[MailListener] = []
        self._locks: dict[str, object] = {}
        #: Held by a thread writing into the store (one delivery at a time).
        self.writing = threading.RLock()
        #: The summary of each message seen, by (mailbox, key): a Maildir message
        #: never changes under its key, and a view lists every message often.
        self._summaries: dict[tuple[str, str], MailSummary] = {}

    # ---- mailboxes ------------------------------------------------------------------

    def _box(self, name: str, create: bool = True) -> mailbox.Maildir:
        return mailbox.Maildir(self.root / check_name(name), factory=None, create=create)

    def mailboxes(self) -> builtins.list[str]:
        """The names of the mailboxes that exist, sorted."""
        try:
            with os.scandir(self.root) as entries:
                names = [e.name for e in entries
                         if MAILBOX_NAME.fullmatch(e.name) and e.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        root = str(self.root)
        return sorted(name for name in names
                      if os.path.isdir(os.path.join(root, name, "cur"))
                      and os.path.isdir(os.path.join(root, name, "new")))

    def _keys(self, name: str) -> builtins.list[str]:
        """The keys of mailbox ``name``'s messages, as mailbox.Maildir reads them
        (a file in new/ or cur/, the key before any ``:info``), without its stats: a
        view lists every mailbox often."""
        keys = []
        for sub in ("new", "cur"):
            try:
                with os.scandir(os.path.join(self.root, name, sub)) as entries:
                    keys += [e.name.split(":")[0] for e in entries if not e.is_dir()]
            except (FileNotFoundError, NotADirectoryError):
                continue
        return keys

    def path(self, name: str) -> Path:
        """The Maildir folder of mailbox ``name`` (which may not exist yet)."""
        return self.root / check_name(name)

    # ---- messages -------------------------------------------------------------------

    def deliver(self, name: str, data: bytes) -> str:
        """Store ``data`` (a whole RFC 5322 message) in mailbox ``name``; its key."""
        event = self.add(name, data)
        self.notify(event)
        return event.key

    def add(self, name: str, data: bytes) -> MailEvent:
        """Store ``data`` in mailbox ``name`` without telling the watchers (any thread:
        it holds ``writing``); the event to ``notify`` on the loop."""
        with self.writing:
            self.root.mkdir(parents=True, exist_ok=True)
            stored = data.replace(b"\r\n", b"\n")
            key: str = self._box(name).add(stored)
            # summarised from what was written: reading it back makes mailbox.Maildir
            # read the whole folder again (each add would cost as much as the box)
            seconds, micros, _ = _order(key)
            summary = summarize(name, key, to_wire(stored),
                                seconds + micros / 1e6 if seconds else time.time())
            self._summaries[(name, key)] = summary
            return MailEvent(mailbox=name, key=key, action="delivered", summary=summary)

    def discard(self, name: str, key: str) -> None:
        """Remove a message ``add`` wrote that no watcher has heard of (any thread: it
        holds ``writing``); nothing if it is gone."""
        with self.writing:
            self._summaries.pop((name, key), None)
            with contextlib.suppress(KeyError, OSError):
                self._box(name, create=False).discard(key)

    def list(self, name: str) -> builtins.list[MailSummary]:
        """The messages in mailbox ``name``, oldest delivery first (none if it does
        not exist yet)."""
        if not self.path(name).is_dir():
            return []
        summaries = []
        box: mailbox.Maildir | None = None  # one for the whole list: each new one
        for key in self._keys(name):  # reads the folders again (quadratic)
            try:
                summary = self._summaries.get((name, key))
                if summary is None:
                    box = box if box is not None else self._box(name, create=False)
                    summary = self._summary(name, key, box)
                summaries.append(summary)
            except (KeyError, FileNotFoundError):  # removed meanwhile by another program
                continue
        return sorted(summaries, key=lambda s: (s.delivered, _order(s.key), s.key))

    def everything(self) -> builtins.list[MailSummary]:
        """Every message of every mailbox, oldest delivery first."""
        found = [s for name in self.mailboxes() for s in self.list(name)]
        return sorted(found, key=lambda s: (s.delivered, _order(s.key), s.key))

    def read(self, name: str, key: str) -> bytes:
        """The message ``key`` in its wire form (CRLF line ends); KeyError if absent."""
        return to_wire(self._box(name, create=False).get_bytes(key))

    def delete(self, name: str, key: str) -> bool:
        """Remove message ``key``; False if it was not there."""
        if not self.path(name).is_dir():
            return False
        box = self._box(name, create=False)
        try:
            summary = self._summary(name, key, box)
            box.remove(key)
        except (KeyError, FileNotFoundError):
            return False
        self._summaries.pop((name, key), None)
        self.notify(MailEvent(mailbox=name, key=key, action="deleted", summary=summary))
        return True

    def _summary(self, name: str, key: str, box: mailbox.Maildir | None = None) -> MailSummary:
        summary = self._summaries.get((name, key))
        if summary is None:
            box = box if box is not None else self._box(name, create=False)
            summary = summarize(name, key, to_wire(box.get_bytes(key)), _delivered(box, key))
            self._summaries[(name, key)] = summary
        return summary

    # ---- POP3 maildrop locks --------------------------------------------------------

    def lock(self, name: str, owner: object) -> bool:
        """Give ``owner`` the maildrop ``name``; False if someone else holds it."""
        holder = self._locks.setdefault(check_name(name), owner)
        return holder is owner

    def unlock(self, name: str, owner: object) -> None:
        if self._locks.get(name) is owner:
            del self._locks[name]

    # ---- watchers -------------------------------------------------------------------

    def watch(self, listener: MailListener) -> Callable[[], None]:
        """Call ``listener`` after each delivery and deletion; returns the function
        that stops it."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def notify(self, event: MailEvent) -> None:
        """Tell the watchers of ``event`` (on the loop)."""
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a mail listener failed on %s", event)


_STORES: weakref.WeakValueDictionary[Path, MailStore] = weakref.WeakValueDictionary()


def open_store(root: Path) -> MailStore:
    """The store for ``root``: the same object for every caller in this process."""
    root = root.expanduser().resolve()
    store = _STORES.get(root)
    if store is None:
        store = MailStore(root)
        _STORES[root] = store
    return store


def store_option(options: dict[str, str]) -> MailStore:
    """The store a server's options name: ``root``, else the mail folder in the data dir."""
    root = Path(options["root"]) if options.get("root") else data_dir() / "mail"
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"the mail folder {root} is a file, not a folder")
    root.mkdir(parents=True, exist_ok=True)
    return open_store(root)
