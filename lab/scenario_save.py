"""Save the lab's current setup as a scenario file that ``lab.scenario.load`` accepts.

    text = scenario_text(engine, title="My setup")   # on the engine's loop
    save(engine, "setup.toml")

The servers (kind, name, port as asked for, options), the clients (kind, name, the
lab server their ``server`` setting names, their other settings that differ from the
kind's defaults) and the Wire's faults and step mode; no
steps, so ``cslab run`` sets it up and exits. TOML is written by hand (tomllib
only reads): strings escaped as TOML basic strings.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from lab.clients import client_kinds
from lab.engine import Engine
from lab.model import NodeInfo, parse_address
from lab.scenario import ACTIONS
from lab.scenario_run import is_fresh_data
from lab.wire.faults import Faults

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
GOAL = "What this setup shows (write the goal here)."
#: Client settings a saved setup leaves out: a URL names the server's port of today.
UNSAVED_SETTINGS = frozenset({"url"})


class SaveError(Exception):
    """A setup that cannot be saved as a scenario; the message says why, for a user."""


def quote(text: str) -> str:
    """``text`` as a TOML basic string."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def value(item: Any) -> str:
    """A TOML value for a string, bool, int or finite float."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise SaveError(f"{item!r} cannot be written to a scenario")
        return repr(item)
    return quote(str(item))


def key(name: str) -> str:
    """``name`` as a TOML key: bare when it can be, else quoted."""
    return name if BARE_KEY.fullmatch(name) else quote(name)


def _inline(table: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{key(k)} = {value(v)}" for k, v in table.items()) + " }"


def changed_faults(faults: Faults) -> dict[str, Any]:
    """The faults that differ from none set."""
    none = Faults()
    out: dict[str, Any] = {}
    for f in fields(faults):
        current = getattr(faults, f.name)
        if current != getattr(none, f.name):
            out[f.name] = current
    return out


def _unique(name: str, taken: set[str]) -> str:
    new, n = name, 2
    while new in taken:
        new, n = f"{name} ({n})", n + 1
    taken.add(new)
    return new


def _server_of(target: str, servers: list[NodeInfo], names: dict[str, str]) -> str:
    """The saved name of the lab server at ``target`` (a client's ``server`` setting;
    '' if it is none of them)."""
    if not target:
        return ""
    try:
        host, port = parse_address(target)
    except ValueError:
        return ""
    for server in servers:
        try:
            s_host, s_port = parse_address(server.address)
        except ValueError:
            continue
        if s_port == port and (s_host == host or {s_host, host} <= {"127.0.0.1", "localhost"}):
            return names[server.id]
    return ""


def scenario_text(engine: Engine, title: str = "Saved setup") -> str:
    """The engine's current setup as scenario TOML. Call on the engine's loop."""
    nodes = engine.nodes()
    servers = [n for n in nodes if n.role == "server"]
    clients = [n for n in nodes if n.role == "client" and n.kind in ACTIONS]
    if clients and not servers:
        raise SaveError("a scenario's clients need a server: add one before saving")
    lines = ["# Saved by Client-Server Lab. Add [[step]] tables to make it a lesson.",
             "", "[scenario]", f"title = {quote(title)}", f"goal = {quote(GOAL)}"]
    taken: set[str] = set()
    names: dict[str, str] = {}
    for server in servers:
        port, options = engine.server_setup(server.id)
        # A lesson run's fresh data folder is gone once the lesson ends: not saved.
        options = {k: v for k, v in options.items() if not is_fresh_data(v)}
        names[server.id] = _unique(server.name, taken)
        lines += ["", "[[server]]", f"kind = {quote(server.kind)}",
                  f"name = {quote(names[server.id])}", f"port = {port}"]
        if options:
            lines.append(f"options = {_inline(options)}")
    taken = set()
    for client in clients:
        lines += ["", "[[client]]", f"kind = {quote(client.kind)}",
                  f"name = {quote(_unique(client.name, taken))}"]
        settings = dict(engine.client_state(client.id).settings)
        connected = _server_of(settings.pop("server", ""), servers, names)
        if connected:
            lines.append(f"server = {quote(connected)}")
        defaults = client_kinds()[client.kind].defaults
        options = {k: v for k, v in settings.items()
                   if v != defaults.get(k, "") and k not in UNSAVED_SETTINGS}
        if options:
            lines.append(f"options = {_inline(options)}")
    lines += _wire(engine, servers, names)
    return "\n".join(lines) + "\n"


def _wire(engine: Engine, servers: list[NodeInfo], names: dict[str, str]) -> list[str]:
    """The [wire] table: the faults (on every server if all have the same ones, else
    on the first server that has any) and step mode; [] when nothing is set."""
    faulted = [(s, f) for s in servers if (f := changed_faults(engine.wire_board.faults(s.id)))]
    step = engine.wire_board.stepping(None)
    if not faulted and not step:
        return []
    lines = ["", "[wire]"]
    if faulted:
        first = faulted[0][1]
        if len(faulted) < len(servers) or any(f != first for _, f in faulted):
            lines.append(f"server = {quote(names[faulted[0][0].id])}")
            for other, _ in faulted[1:]:
                lines.append(f"# not saved: the faults of {names[other.id]!r} "
                             "(a scenario holds one server's)")
        lines.append(f"faults = {_inline(first)}")
    if step:
        lines.append("step = true")
    return lines


def save(engine: Engine, path: str | Path, title: str = "") -> Path:
    """Write the setup to ``path`` (title: the file's name by default); SaveError
    if it cannot be written. Call on the engine's loop."""
    path = Path(path)
    text = scenario_text(engine, title or path.stem.replace("-", " ").replace("_", " "))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SaveError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
