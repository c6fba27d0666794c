"""Panels: one per server kind and per client kind, registered by kind.

A new protocol adds its panel module and one entry in SERVER_PANELS or
CLIENT_PANELS; the main window builds its menus and panels from these tables.
Each entry names its module and class: a panel's module (and what it needs:
pyqtgraph, aiohttp, dnspython…) is imported when the first panel of its kind is
made, not when the window starts.
"""

from __future__ import annotations

import importlib

from ui.panels.base import NodePanel, PanelContext

#: kind → "module:Class" under ui.panels.
SERVER_PANELS: dict[str, str] = {
    "tcp-echo": "echo_server:EchoServerPanel",
    "udp-echo": "echo_server:EchoServerPanel",
    "http": "http_server:HttpServerPanel",
    "smtp": "mail_server:SmtpServerPanel",
    "pop3": "mail_server:Pop3ServerPanel",
    "ftp": "ftp_server:FtpServerPanel",
    "dns": "dns_server:DnsServerPanel",
    "ws": "ws_server:WsServerPanel",
}

CLIENT_PANELS: dict[str, str] = {
    "echo": "echo_client:EchoClientPanel",
    "http": "http_composer:HttpComposerPanel",
    "browser": "http_browser:HttpBrowserPanel",
    "smtp": "mail_composer:MailComposerPanel",
    "pop3": "mail_reader:MailReaderPanel",
    "ftp": "ftp_client:FtpClientPanel",
    "dns": "dns_client:DnsClientPanel",
    "ws": "ws_chat:WsChatPanel",
    "load": "load:LoadPanel",
}


def has_panel(role: str, kind: str) -> bool:
    """Whether a node of ``role`` ("server" | "client") and ``kind`` has a panel
    (without importing it)."""
    return kind in (SERVER_PANELS if role == "server" else CLIENT_PANELS)


def panel_class(role: str, kind: str) -> type[NodePanel] | None:
    """The panel for a node of ``role`` ("server" | "client") and ``kind``, if any."""
    entry = (SERVER_PANELS if role == "server" else CLIENT_PANELS).get(kind)
    if entry is None:
        return None
    module, name = entry.split(":")
    cls = getattr(importlib.import_module(f"ui.panels.{module}"), name)
    assert isinstance(cls, type) and issubclass(cls, NodePanel)
    return cls


__all__ = ["CLIENT_PANELS", "SERVER_PANELS", "NodePanel", "PanelContext", "has_panel",
           "panel_class"]
