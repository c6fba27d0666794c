"""Lessons and scenarios: a TOML file of servers, clients, Wire faults and steps.

    [scenario]   title, goal
    [[server]]   kind, name, port (0: pick one; default: the kind's port), options
                 (a relative ``root`` is taken from the scenario file's folder)
    [[client]]   kind, name, server (a server's name; default: the first one that fits),
                 options (user, password, from, to, subject, body, host, dns, nick…)
    [wire]       faults (names as in lab/faults.py), step (the window's step mode),
                 server (one server's name; default: every server)
    [[step]]     client (by name), action ("get /index.html", "send mail", "retr 1"…),
                 expect (status, reply, rcode, contains, ok), faults (set on the
                 client's server before the action), say (the presenter's text)

``load`` parses and validates; every error is a ScenarioError naming the file, the
line and the field. Running one is lab/scenario_run.py.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lab import kinds as kind_table
from lab.paths import resources_dir
from lab.wire.faults import Faults

#: What a step may expect, and the type its value must have.
EXPECT_KEYS: dict[str, type | tuple[type, ...]] = {
    "status": int, "reply": (int, str), "rcode": str, "contains": str, "ok": bool,
}
FAULT_NAMES = frozenset(f.name for f in fields(Faults))
LESSONS_DIR = "lessons"
#: The longest latency or jitter a scenario may set, in milliseconds (an hour).
MAX_DELAY_MS = 3_600_000.0
#: The largest scenario file read, in bytes.
MAX_FILE = 16 << 20
_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]*?)\s*\]\]?\s*(#.*)?$")


def actions() -> dict[str, dict[str, tuple[str, ...]]]:
    """Each client kind's verbs (lab/kinds.py): (verb, arguments; the last one takes
    the rest of the line), for the kinds a scenario can drive."""
    return {name: dict(side.verbs) for name, side in kind_table.clients().items() if side.verbs}


def __getattr__(name: str) -> dict[str, dict[str, tuple[str, ...]]]:
    if name == "ACTIONS":  # the table's view
        return actions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ScenarioError(Exception):
    """A scenario that cannot be loaded; the message names the file, line and field."""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    kind: str
    name: str
    port: int | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClientSpec:
    kind: str
    name: str
    server: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WireSpec:
    faults: dict[str, Any] = field(default_factory=dict)
    step: bool = False
    server: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    client: str
    verb: str
    args: tuple[str, ...]
    expect: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    say: str = ""
    line: int = 0

    @property
    def action(self) -> str:
        return " ".join((self.verb, *self.args))


@dataclass(frozen=True, slots=True)
class Scenario:
    title: str
    goal: str
    servers: tuple[ServerSpec, ...]
    clients: tuple[ClientSpec, ...]
    wire: WireSpec
    steps: tuple[Step, ...]
    path: str = ""


class _Checker:
    """Reads tables and fields, raising ScenarioError with the line they are on."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.splitlines()
        self.path = path
        self.starts: dict[str, list[int]] = {}  # table → the lines of its headers, in order
        for n, line in enumerate(self.lines):
            if line.lstrip().startswith("[") and (found := _HEADER.match(line)):
                self.starts.setdefault(found.group(1), []).append(n)

    def line_of(self, table: str, index: int = 0, key: str = "") -> int:
        """The line of ``key`` in the ``index``-th ``[table]``/``[[table]]`` (1-based;
        the table's header line if the key is not found, 0 if the table is not)."""
        starts = self.starts.get(table, [])
        if index >= len(starts):
            return 0
        start = starts[index]
        if key:
            key_re = re.compile(rf"^\s*{re.escape(key)}\s*=|[{{,]\s*{re.escape(key)}\s*=")
            for n in range(start + 1, len(self.lines)):
                if self.lines[n].lstrip().startswith("["):
                    break
                if key_re.search(self.lines[n]):
                    return n + 1
        return start + 1

    def fail(self, table: str, index: int, key: str, why: str) -> ScenarioError:
        line = self.line_of(table, index, key)
        where = f"{self.path}:{line}" if line else self.path
        what = f"[[{table}]] #{index + 1}" if table in ("server", "client", "step") \
            else f"[{table}]"
        return ScenarioError(f"{where}: {what} field {key!r}: {why}")

    def get(self, data: dict[str, Any], table: str, index: int, key: str,
            kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in data:
            if default is None:
                raise self.fail(table, index, key, "missing")
            return default
        value = data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise self.fail(table, index, key, f"{_show(value)} is not {_type_name(kind)}")
        return value

    def tables(self, data: dict[str, Any], table: str) -> list[dict[str, Any]]:
        """The ``[[table]]`` array: a list of tables (``server = [1]`` is not one)."""
        items: list[Any] = self.get(data, table, 0, table, list, [])
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(table, n, table, f"{_show(item)} is not a table "
                                f"(write each as [[{table}]])")
        return items

    def known(self, data: dict[str, Any], table: str, index: int, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(table, index, key,
                                f"unknown; known: {', '.join(sorted(allowed))}")

    def strings(self, data: dict[str, Any], table: str, index: int, key: str) -> dict[str, str]:
        table_value = self.get(data, table, index, key, dict, {})
        out: dict[str, str] = {}
        for name, value in table_value.items():
            if not isinstance(value, str | int | bool):
                raise self.fail(table, index, name, f"{_show(value)} is not a string")
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def faults(self, data: dict[str, Any], table: str, index: int) -> dict[str, Any]:
        faults: dict[str, Any] = self.get(data, table, index, "faults", dict, {})
        for name, value in faults.items():
            if name not in FAULT_NAMES:
                raise self.fail(table, index, name, "not a fault; known: "
                                + ", ".join(sorted(FAULT_NAMES)))
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail(table, index, name, f"{value!r} is not a finite number")
            if name in ("latency", "jitter") and isinstance(value, int | float) \
                    and value > MAX_DELAY_MS:
                raise self.fail(table, index, name, f"{value!r} is more than an hour "
                                f"({MAX_DELAY_MS:.0f} ms)")
            try:
                Faults().changed(**{name: value})
            except (TypeError, ValueError) as exc:
                raise self.fail(table, index, name, str(exc)) from None
        return faults


def _show(value: Any) -> str:
    """A value as an error shows it: its start, if long or deep."""
    try:
        text = repr(value)
    except RecursionError:
        return "a value nested too deeply"
    return text if len(text) <= 60 else f"{text[:57]}…"


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "a number", str: "a string", bool: "true or false", dict: "a table",
             list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse(text: str, path: str = "<scenario>") -> Scenario:
    """Validate a scenario's TOML text; ScenarioError names the line and field."""
    from lab.clients import client_kinds
    from lab.servers import server_kinds

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: not a scenario (arrays or tables nested too "
                            "deeply)") from None
    check = _Checker(text, path)
    check.known(data, "scenario", 0, {"scenario", "server", "client", "wire", "step"})
    head = check.get(data, "scenario", 0, "scenario", dict, {})
    check.known(head, "scenario", 0, {"title", "goal"})
    title = check.get(head, "scenario", 0, "title", str)
    goal = check.get(head, "scenario", 0, "goal", str, "")

    servers: list[ServerSpec] = []
    for n, raw in enumerate(check.tables(data, "server")):
        check.known(raw, "server", n, {"kind", "name", "port", "options"})
        kind = check.get(raw, "server", n, "kind", str)
        if kind not in server_kinds():
            raise check.fail("server", n, "kind", f"unknown kind {kind!r}; known: "
                             + ", ".join(sorted(server_kinds())))
        name = check.get(raw, "server", n, "name", str, kind)
        port = raw.get("port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool)
                                 or not 0 <= port <= 65535):
            raise check.fail("server", n, "port", f"{port!r} is not a port (0-65535)")
        if name in {s.name for s in servers}:
            raise check.fail("server", n, "name", f"{name!r} is used twice")
        options = check.strings(raw, "server", n, "options")
        if kind == "dns" and options.get("zone"):
            _check_zone(check, n, options["zone"])
        if options.get("root") and not Path(options["root"]).expanduser().is_absolute():
            options["root"] = str(Path(path).parent / options["root"])  # beside the file
        servers.append(ServerSpec(kind, name, port, options))
    names = [s.name for s in servers]

    clients: list[ClientSpec] = []
    verbs = actions()
    for n, raw in enumerate(check.tables(data, "client")):
        check.known(raw, "client", n, {"kind", "name", "server", "options"})
        kind = check.get(raw, "client", n, "kind", str)
        if kind not in client_kinds() or kind not in verbs:
            raise check.fail("client", n, "kind", f"unknown kind {kind!r}; known: "
                             + ", ".join(sorted(verbs)))
        name = check.get(raw, "client", n, "name", str, kind)
        if any(c.name == name for c in clients):
            raise check.fail("client", n, "name", f"{name!r} is used twice")
        server = check.get(raw, "client", n, "server", str, _default_server(kind, servers))
        if server not in names:
            raise check.fail("client", n, "server", f"no server named {server!r}; the "
                             f"scenario has: {', '.join(names) or 'none'}")
        clients.append(ClientSpec(kind, name, server,
                                  check.strings(raw, "client", n, "options")))

    wire_raw = check.get(data, "wire", 0, "wire", dict, {})
    check.known(wire_raw, "wire", 0, {"faults", "step", "server"})
    wire = WireSpec(check.faults(wire_raw, "wire", 0),
                    check.get(wire_raw, "wire", 0, "step", bool, False),
                    check.get(wire_raw, "wire", 0, "server", str, ""))
    if wire.server and wire.server not in names:
        raise check.fail("wire", 0, "server", f"no server named {wire.server!r}")

    kinds = {c.name: (c.kind, verbs[c.kind]) for c in clients}
    steps = [_step(check, n, raw, kinds) for n, raw in enumerate(check.tables(data, "step"))]
    return Scenario(title, goal, tuple(servers), tuple(clients), wire, tuple(steps), path)


def _check_zone(check: _Checker, n: int, text: str) -> None:
    """A DNS server's ``zone`` option must read as a zone whose records can be listed."""
    from lab.servers.dns import zone_option

    try:
        zone_option({"zone": text}).records()
    except Exception as exc:  # noqa: BLE001 (ZoneError, and what dnspython raises)
        raise check.fail("server", n, "zone", f"not a zone ({exc})") from None


def _default_server(kind: str, servers: list[ServerSpec]) -> str:
    wanted = kind_table.fits(kind)
    fits = [s for s in servers if s.kind in wanted]
    return (fits or servers or [ServerSpec("", "")])[0].name


def _step(check: _Checker, n: int, raw: dict[str, Any],
          kinds: dict[str, tuple[str, dict[str, tuple[str, ...]]]]) -> Step:
    """The ``n``-th step; ``kinds`` has each client's kind and verbs, by its name."""
    check.known(raw, "step", n, {"client", "action", "expect", "faults", "say"})
    client = check.get(raw, "step", n, "client", str)
    if client not in kinds:
        raise check.fail("step", n, "client", f"no client named {client!r}; the scenario "
                         f"has: {', '.join(kinds) or 'none'}")
    action = check.get(raw, "step", n, "action", str).strip()
    kind, verbs = kinds[client]
    verb, *rest = action.split(None, 1) or [""]
    if verb.lower() not in verbs:
        usage = "; ".join(" ".join((v, *a)) for v, a in verbs.items())
        raise check.fail("step", n, "action", f"{action!r} is not an action of a "
                         f"{kind} client; it knows: {usage}")
    wanted = verbs[verb.lower()]
    required = [a for a in wanted if not a.endswith("?")]
    args = rest[0].split(None, len(wanted) - 1) if rest and wanted else []
    if len(args) < len(required) or (rest and not wanted):
        raise check.fail("step", n, "action", f"{action!r}: write it as "
                         + " ".join((verb.lower(), *wanted)))
    expect: dict[str, Any] = check.get(raw, "step", n, "expect", dict, {})
    for key, value in expect.items():
        if key not in EXPECT_KEYS:
            raise check.fail("step", n, key, "not an expectation; known: "
                             + ", ".join(EXPECT_KEYS))
        if not isinstance(value, EXPECT_KEYS[key]):
            raise check.fail("step", n, key, f"{value!r} is not {_type_name(EXPECT_KEYS[key])}")
    return Step(client, verb.lower(), tuple(args), expect, check.faults(raw, "step", n),
                check.get(raw, "step", n, "say", str, ""), check.line_of("step", n))


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file, or a built-in lesson by name (see ``find``).
    A folder, a FIFO or a device is refused from its mode, without being opened."""
    found = find(str(path))
    try:
        mode = os.stat(found).st_mode
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" \
                if stat.S_ISFIFO(mode) else "a device or socket"
            raise ScenarioError(f"{path}: {what}, not a scenario file")
        if os.stat(found).st_size > MAX_FILE:
            raise ScenarioError(f"{path}: larger than a scenario may be "
                                f"({MAX_FILE >> 20} MiB)")
        data = found.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data.startswith(b"SQLite format 3\0"):
        raise ScenarioError(f"{path}: a .cslab capture, not a scenario (open it with "
                            "cslab gui, or export it with cslab export)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(f"{path}:{line}: not UTF-8 text, not a scenario") from None
    return parse(text, str(found))


def lessons_dir() -> Path:
    return resources_dir() / LESSONS_DIR


def lessons() -> list[tuple[str, Path]]:
    """The built-in lessons as (title, file), in file-name order."""
    out = []
    for path in sorted(lessons_dir().glob("*.toml")):
        try:
            out.append((parse(path.read_text(encoding="utf-8"), str(path)).title, path))
        except ScenarioError:
            out.append((f"(invalid) {path.stem}", path))
    return out


def find(name: str) -> Path:
    """A file path as given if it exists, else the built-in lesson whose file name is
    ``name`` (with or without ``.toml``) or starts with it followed by ``-``."""
    path = Path(name)
    if path.exists():
        return path
    stem = path.name.removesuffix(".toml")
    for lesson in sorted(lessons_dir().glob("*.toml")):
        if lesson.stem == stem or lesson.stem.startswith(f"{stem}-"):
            return lesson
    raise ScenarioError(f"{name}: no such file or built-in lesson (cslab lessons lists them)")
