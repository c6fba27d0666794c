"""Panels: one per server kind and per client kind, registered by kind.

A new protocol adds its panel module and one entry in SERVER_PANELS or
CLIENT_PANELS (the UI's one kind table; lab/kinds.py is the lab's); the main
window builds its menus and panels from these tables.
Each entry names its module and class: a panel's module (and what it needs:
pyqtgraph, aiohttp, dnspython…) is imported when the first panel of its kind is
made, not when the window starts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ui.panels.base import NodePanel, PanelContext


@dataclass(frozen=True, slots=True)
class Panel:
    """A kind's panel: "module:Class" (a module under ui.panels, or a dotted path) and
    the shortcut of its + Server / + Client menu entry ("" for none)."""

    entry: str
    shortcut: str = ""


#: server kind → its panel.
SERVER_PANELS: dict[str, Panel] = {
    "tcp-echo": Panel("echo_server:EchoServerPanel", "Ctrl+Shift+T"),
    "udp-echo": Panel("echo_server:EchoServerPanel", "Ctrl+Shift+U"),
    "http": Panel("http_server:HttpServerPanel", "Ctrl+Shift+H"),
    "smtp": Panel("mail_server:SmtpServerPanel", "Ctrl+Shift+M"),
    "pop3": Panel("mail_server:Pop3ServerPanel", "Ctrl+Shift+P"),
    "ftp": Panel("ftp_server:FtpServerPanel", "Ctrl+Shift+F"),
    "dns": Panel("dns_server:DnsServerPanel"),
    "ws": Panel("ws_server:WsServerPanel"),
}

#: client kind → its panel.
CLIENT_PANELS: dict[str, Panel] = {
    "echo": Panel("echo_client:EchoClientPanel", "Ctrl+Shift+E"),
    "http": Panel("http_composer:HttpComposerPanel", "Ctrl+Shift+R"),
    "browser": Panel("http_browser:HttpBrowserPanel", "Ctrl+Shift+B"),
    "smtp": Panel("mail_composer:MailComposerPanel", "Ctrl+Shift+N"),
    "pop3": Panel("mail_reader:MailReaderPanel", "Ctrl+Shift+I"),
    "ftp": Panel("ftp_client:FtpClientPanel", "Ctrl+Shift+L"),
    "dns": Panel("dns_client:DnsClientPanel"),
    "ws": Panel("ws_chat:WsChatPanel"),
    "load": Panel("load:LoadPanel"),
}


def _table(role: str) -> dict[str, Panel]:
    return SERVER_PANELS if role == "server" else CLIENT_PANELS


def has_panel(role: str, kind: str) -> bool:
    """Whether a node of ``role`` ("server" | "client") and ``kind`` has a panel
    (without importing it)."""
    return kind in _table(role)


def shortcut(role: str, kind: str) -> str:
    """The menu shortcut of ``kind``'s panel ("" for none)."""
    panel = _table(role).get(kind)
    return panel.shortcut if panel is not None else ""


def register_panel(role: str, kind: str, panel: Panel) -> None:
    """Add (or replace) the panel of a kind; imports nothing."""
    _table(role)[kind] = panel


def panel_class(role: str, kind: str) -> type[NodePanel] | None:
    """The panel for a node of ``role`` ("server" | "client") and ``kind``, if any."""
    panel = _table(role).get(kind)
    if panel is None:
        return None
    module, name = panel.entry.split(":")
    path = module if "." in module else f"ui.panels.{module}"
    cls = getattr(importlib.import_module(path), name)
    assert isinstance(cls, type) and issubclass(cls, NodePanel)
    return cls


__all__ = ["CLIENT_PANELS", "SERVER_PANELS", "NodePanel", "Panel", "PanelContext",
           "has_panel", "panel_class", "register_panel", "shortcut"]
