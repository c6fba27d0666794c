"""Panels: one per server kind and per client kind, registered by kind.

A new protocol adds its panel module and one entry in SERVER_PANELS or
CLIENT_PANELS; the main window builds its menus and panels from these tables.
"""

from __future__ import annotations

from ui.panels.base import NodePanel, PanelContext
from ui.panels.dns_client import DnsClientPanel
from ui.panels.dns_server import DnsServerPanel
from ui.panels.echo_client import EchoClientPanel
from ui.panels.echo_server import EchoServerPanel
from ui.panels.ftp_client import FtpClientPanel
from ui.panels.ftp_server import FtpServerPanel
from ui.panels.http_browser import HttpBrowserPanel
from ui.panels.http_composer import HttpComposerPanel
from ui.panels.http_server import HttpServerPanel
from ui.panels.load import LoadPanel
from ui.panels.mail_composer import MailComposerPanel
from ui.panels.mail_reader import MailReaderPanel
from ui.panels.mail_server import Pop3ServerPanel, SmtpServerPanel
from ui.panels.ws_chat import WsChatPanel
from ui.panels.ws_server import WsServerPanel

SERVER_PANELS: dict[str, type[NodePanel]] = {
    "tcp-echo": EchoServerPanel,
    "udp-echo": EchoServerPanel,
    "http": HttpServerPanel,
    "smtp": SmtpServerPanel,
    "pop3": Pop3ServerPanel,
    "ftp": FtpServerPanel,
    "dns": DnsServerPanel,
    "ws": WsServerPanel,
}

CLIENT_PANELS: dict[str, type[NodePanel]] = {
    "echo": EchoClientPanel,
    "http": HttpComposerPanel,
    "browser": HttpBrowserPanel,
    "smtp": MailComposerPanel,
    "pop3": MailReaderPanel,
    "ftp": FtpClientPanel,
    "dns": DnsClientPanel,
    "ws": WsChatPanel,
    "load": LoadPanel,
}


def panel_class(role: str, kind: str) -> type[NodePanel] | None:
    """The panel for a node of ``role`` ("server" | "client") and ``kind``, if any."""
    table = SERVER_PANELS if role == "server" else CLIENT_PANELS
    return table.get(kind)


__all__ = ["CLIENT_PANELS", "SERVER_PANELS", "NodePanel", "PanelContext", "panel_class"]
