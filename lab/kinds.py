"""The kind table: every protocol kind the lab knows, in one place.

One row per kind name (what a lesson's ``kind =``, ``cslab serve KIND`` and the
window's menus say). A row may have a server side, a client side or both: "http"
has both (the HTTP server and the request composer), "browser" only a client
(of protocol http), "tcp-echo" only a server. Protocol-level facts (dissector
modules, the pairing rule, explanation notes, the share URL's scheme) sit on the
row that owns the protocol; a row that only speaks another row's protocol names
it in ``protocol`` and leaves them empty.

The table names modules ("module:function") and imports none of them: listing
the kinds (the window's menus, ``cslab --help``) stays fast, and a kind's module
is imported when its first server or client is made, or its first message
dissected. Every other place asks this table (through ``lab.servers.server_kinds``,
``lab.clients.client_kinds`` and the helpers below); none spells a kind's name.
Adding a protocol is its own modules plus one ``Kind`` here (or ``register`` it,
as the tests do) and one panel entry in ``ui/panels``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lab.model import FieldValue, Transport


def final_status(value: FieldValue) -> bool:
    """A final HTTP answer: not 100 Continue and friends (101 does end the exchange)."""
    return isinstance(value, int) and (value >= 200 or value == 101)


def always(value: FieldValue) -> bool:
    return True


def completion(value: FieldValue) -> bool:
    """An FTP reply that ends its command: a 150 "opening the data connection" does not."""
    return isinstance(value, int) and value >= 200


@dataclass(frozen=True, slots=True)
class Rule:
    """Which message answers which (see lab/pairing.py)."""

    questions: frozenset[str]  # a client message whose first field is named so asks
    answer: str  # a server message whose first field has this name answers…
    final: Callable[[FieldValue], bool] = always  # …when this holds for its value
    keyed: bool = False  # the answer's value must equal its question's (a DNS id)


@dataclass(frozen=True, slots=True)
class FreshData:
    """A server option a lesson run points at a fresh folder (see lab/scenario_run.py):
    ``option`` gets ``name`` in the run's folder, filled from the data dir's ``seed``."""

    option: str
    name: str
    seed: str = ""


@dataclass(frozen=True, slots=True)
class ServerSide:
    """A kind's server: ``start`` is "module:function" (``async (options) -> Backend``)."""

    title: str
    start: str
    transport: Transport = Transport.TCP
    default_port: int = 0
    #: The module describing its live data and taking commands (lab/servers/live.py).
    live: str = ""
    #: A UDP kind that also answers over TCP on the same port names that side's dissector.
    tcp_dissector: str = ""
    #: One line for the menus and ``cslab serve --help``.
    note: str = ""
    #: The options ``cslab serve`` passes (root, user, password) → what they mean here.
    options: Mapping[str, str] = field(default_factory=dict)
    #: Options a lesson run points at fresh folders.
    fresh: tuple[FreshData, ...] = ()
    #: Shared on the network: what anyone who reaches it may do, and what guards it,
    #: in a few words (the window's share banner says it beside the address).
    shared: str = ""


@dataclass(frozen=True, slots=True)
class ClientSide:
    """A kind's client: ``factory`` is "module:name"; the module also has ``act``."""

    title: str
    factory: str
    defaults: Mapping[str, str] = field(default_factory=dict)
    #: Scenario verbs → their arguments (the last takes the rest of the line; "X?" optional).
    verbs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""
    #: The server kinds it talks to, best first (default: the kind of its own name).
    fits: tuple[str, ...] = ()
    #: Its traffic may be sampled in the views (a load test's many clients).
    sampled: bool = False
    #: The module with its ``act`` (default: the factory's module).
    actions: str = ""

    @property
    def module(self) -> str:
        return self.factory.partition(":")[0]

    @property
    def actions_module(self) -> str:
        return self.actions or self.module


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    #: The Message.protocol its messages carry (its dissector's name); default ``name``.
    protocol: str = ""
    #: Modules that register this protocol's dissectors when imported.
    dissectors: tuple[str, ...] = ()
    pairing: Rule | None = None
    #: Explanation files: a name under resources/explain, or an absolute path.
    explain: tuple[str, ...] = ()
    #: The URL scheme a shared server is announced with ("" : plain host:port).
    scheme: str = ""
    #: Modules of the layers its Wires put on each link, outermost first (each has
    #: ``make(link, send)``; lab/wire/layers): FTP's data-address rewrite.
    layers: tuple[str, ...] = ()
    server: ServerSide | None = None
    client: ClientSide | None = None

    @property
    def dissector(self) -> str:
        return self.protocol or self.name


_HTTP_RULE = Rule(frozenset({"method"}), "status", final_status)
_MAIL_FOLDER = (FreshData("root", "mail"),)
_STUDENTS = ("a password per student: users student1..N, each with its own password "
             "(printed at start; 0: off)")

_KINDS: list[Kind] = [
    Kind("tcp-echo", server=ServerSide(
        "TCP echo server", "lab.servers.echo:start_tcp_echo", Transport.TCP, 7007,
        shared="send bytes and get them back")),
    Kind("udp-echo", server=ServerSide(
        "UDP echo server", "lab.servers.echo:start_udp_echo", Transport.UDP, 7007,
        shared="send datagrams and get them back")),
    Kind("echo", client=ClientSide(
        "Echo client", "lab.clients.echo:EchoSession",
        {"server": "", "transport": "tcp", "hex": "false"}, {"send": ("TEXT",)},
        fits=("tcp-echo", "udp-echo"))),
    Kind("http", dissectors=("lab.dissect.http",), pairing=_HTTP_RULE,
         explain=("http.toml",), scheme="http",
         server=ServerSide("HTTP server", "lab.servers.http:start_http", Transport.TCP, 8080,
                           live="lab.servers.http_live", options={"root": "the site"},
                           fresh=(FreshData("db", "notes.sqlite3"),),
                           shared="read the site; the notes API can change notes"),
         client=ClientSide("Request composer", "lab.clients.http:HttpClient",
                           {"server": "", "host": "", "dns": ""},
                           {"get": ("PATH",), "head": ("PATH",), "delete": ("PATH",),
                            "post": ("PATH", "BODY"), "put": ("PATH", "BODY"),
                            "patch": ("PATH", "BODY")})),
    Kind("browser", protocol="http", client=ClientSide(
        "Mini browser", "lab.clients.browser:new_browser", {"server": ""},
        {"open": ("PATH",)}, fits=("http",))),
    # Each SMTP line gets its reply (DATA its 354, the message its 250); the
    # greeting answers nothing, since nothing waits when it comes.
    Kind("smtp", dissectors=("lab.dissect.smtp",),
         pairing=Rule(frozenset({"command", "content"}), "code"),
         explain=("mail.toml", "smtp.toml"),
         server=ServerSide("SMTP server", "lab.servers.smtp:start_smtp", Transport.TCP, 2525,
                           live="lab.servers.mail_live",
                           note="mail goes in: it stores mail for @lab.test in one mailbox "
                                "each", options={
                               "root": "the mail folder",
                               "user": "with --auth, who logs in (default student)",
                               "password": "with --auth, the password (default lab)",
                               "students": _STUDENTS},
                           fresh=_MAIL_FOLDER,
                           shared="send mail to @lab.test; recipients, new mailboxes and "
                                  "the folder's size capped"),
         client=ClientSide("Mail composer", "lab.clients.smtp:MailSender",
                           {"server": "", "from": "ann@lab.test", "to": "bob@lab.test",
                            "subject": "Hello from the lab", "body": "Hello!"},
                           {"send": ("mail",)}, note="write a mail and send it with SMTP")),
    Kind("pop3", dissectors=("lab.dissect.pop3",), pairing=Rule(frozenset({"command"}), "status"),
         explain=("mail.toml", "pop3.toml"),
         server=ServerSide("POP3 server", "lab.servers.pop3:start_pop3", Transport.TCP, 1110,
                           live="lab.servers.mail_live",
                           note="mail comes out: log in as ann with the password lab",
                           options={"root": "the mail folder",
                                    "password": "the password (default lab)",
                                    "students": _STUDENTS},
                           fresh=_MAIL_FOLDER,
                           shared="read and delete mail with a password; failed logins "
                                  "slow down"),
         client=ClientSide("Mailbox reader", "lab.clients.pop3:MailReader",
                           {"server": "", "user": "ann", "password": "lab"},
                           {"list": (), "retr": ("N",), "dele": ("N",)},
                           note="open a mailbox with POP3, read and delete")),
    # A 150 "opening the data connection" is preliminary: the 226 answers.
    Kind("ftp", dissectors=("lab.dissect.ftp", "lab.dissect.ftp_data"),
         pairing=Rule(frozenset({"command"}), "code", completion), explain=("ftp.toml",),
         layers=("lab.wire.layers.ftp",),
         server=ServerSide("FTP server", "lab.servers.ftp:start_ftp", Transport.TCP, 2121,
                           live="lab.servers.ftp_live",
                           note="files: log in as student / lab, or anonymous (download only)",
                           options={"root": "the served folder",
                                    "user": "the lab user (default student)",
                                    "password": "the lab user's password (default lab)",
                                    "students": _STUDENTS},
                           fresh=(FreshData("root", "ftp", seed="ftp"),),
                           shared="anonymous downloads, users upload (the folder capped); "
                                  "data only to the student's own address; failed logins "
                                  "slow down"),
         client=ClientSide("FTP client", "lab.clients.ftp:FtpClient",
                           {"server": "", "user": "student", "password": "lab",
                            "passive": "true"},
                           {"list": (), "retr": ("NAME",), "cd": ("PATH",)},
                           note="list, download and upload files with FTP",
                           actions="lab.clients.ftp_actions")),
    # The upgrade request and its 101 pair as in HTTP; frames neither ask nor answer.
    Kind("ws", protocol="websocket", dissectors=("lab.dissect.websocket",),
         pairing=_HTTP_RULE, explain=("websocket.toml",), scheme="ws",
         server=ServerSide("WebSocket chat server", "lab.servers.ws:start_ws", Transport.TCP,
                           8765, live="lab.servers.ws_live",
                           shared="join the chat and write to everyone in it"),
         client=ClientSide("WebSocket chat client", "lab.clients.ws:ChatClient",
                           {"server": "", "nick": ""}, {"say": ("TEXT",)})),
    # A DNS response carries its query's id; over UDP answers may come in any order.
    Kind("dns", dissectors=("lab.dissect.dns",), pairing=Rule(frozenset({"id"}), "id", keyed=True),
         explain=("dns.toml",),
         server=ServerSide("DNS server", "lab.servers.dns:start_dns", Transport.UDP, 5300,
                           live="lab.servers.dns_live", tcp_dissector="dns-tcp",
                           note="names to addresses: answers for lab.test from a zone you edit",
                           shared="look up lab.test names; answers rate-limited, none "
                                  "larger than its question over UDP until the address "
                                  "proves real"),
         client=ClientSide("DNS lookup (dig)", "lab.clients.dns:DnsClient", {"server": ""},
                           {"query": ("NAME", "TYPE?")},
                           note="look a name up, like dig, and read the whole answer")),
    Kind("load", client=ClientSide(
        "Load test (many clients)", "lab.clients.load:LoadClient", {"server": ""},
        fits=("http", "tcp-echo"), sampled=True)),
]


_rules: dict[str, Rule | None] = {}


def kinds() -> tuple[Kind, ...]:
    """Every kind, in menu order."""
    return tuple(_KINDS)


def kind(name: str) -> Kind | None:
    return next((k for k in _KINDS if k.name == name), None)


def register(new: Kind) -> Kind:
    """Add a kind (or replace the one of its name, keeping its place). Imports nothing."""
    for n, old in enumerate(_KINDS):
        if old.name == new.name:
            _KINDS[n] = new
            break
    else:
        _KINDS.append(new)
    _rules.clear()
    return new


def unregister(name: str) -> None:
    _KINDS[:] = [k for k in _KINDS if k.name != name]
    _rules.clear()


def servers() -> dict[str, ServerSide]:
    """Every server side, by kind name."""
    return {k.name: k.server for k in _KINDS if k.server is not None}


def clients() -> dict[str, ClientSide]:
    """Every client side, by kind name."""
    return {k.name: k.client for k in _KINDS if k.client is not None}


def owner(protocol: str) -> Kind | None:
    """The kind that owns ``protocol`` (its dissectors, pairing, notes)."""
    return next((k for k in _KINDS if k.dissector == protocol
                 and (k.dissectors or k.pairing or k.explain or k.scheme)), None)


def dissector_modules() -> tuple[str, ...]:
    return tuple(m for k in _KINDS for m in k.dissectors)


def pairing_rule(protocol: str) -> Rule | None:
    """The rule pairing ``protocol``'s messages (asked once per message: kept)."""
    if protocol not in _rules:
        found = owner(protocol)
        _rules[protocol] = found.pairing if found is not None else None
    return _rules[protocol]


def explain_files() -> tuple[str, ...]:
    """Every kind's explanation files, each once, in table order."""
    return tuple(dict.fromkeys(f for k in _KINDS for f in k.explain))


def scheme(name: str) -> str:
    """The URL scheme for a kind or protocol ``name`` ("" if it has none)."""
    found = kind(name)
    if found is not None and not found.scheme:
        found = owner(found.dissector)
    return (found or owner(name) or Kind("")).scheme


def layers(protocol: str) -> tuple[str, ...]:
    """The layer modules a Wire dissecting ``protocol`` puts on its links."""
    found = owner(protocol)
    return found.layers if found is not None else ()


def transport(protocol: str) -> Transport:
    """The transport ``protocol``'s servers use (TCP when no server kind speaks it)."""
    return next((k.server.transport for k in _KINDS
                 if k.server is not None and k.dissector == protocol), Transport.TCP)


def fresh_data(name: str) -> tuple[FreshData, ...]:
    side = servers().get(name)
    return side.fresh if side is not None else ()


def fits(client_kind: str) -> tuple[str, ...]:
    """The server kinds a client kind talks to, best first."""
    side = clients().get(client_kind)
    return (side.fits or (client_kind,)) if side is not None else ()


def sampled(name: str) -> bool:
    side = clients().get(name)
    return side is not None and side.sampled
