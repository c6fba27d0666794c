"""The Explain tab: the selected message in plain words, then a note per field.

The words come from :func:`lab.explain.explain`; this module only lays them out.
:func:`explain_text` gives the same as a short tooltip (the sequence diagram's
arrows show it).
"""

from __future__ import annotations

import html
import re
import textwrap

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTextBrowser, QWidget

from lab.explain import Explanation, explain
from lab.model import Message, Sender
from ui import theme

EMPTY_TEXT = "Select a message to see what it means, in plain words, field by field."
#: The meaning's font, relative to the view's own (so presentation mode scales it too).
MEANING_SCALE = 1.3
#: Characters per line of a plain-text tooltip.
TOOLTIP_WIDTH = 72
#: Characters of a field's value shown next to its name.
VALUE_LIMIT = 80

_RFC = re.compile(r"RFC (\d+)(?: §([\d.]+))?")


def rfc_link(rfc: str) -> str:
    """``RFC 9110 §15.5.5`` as a link to that section on rfc-editor.org (HTML, unbreakable)."""
    match = _RFC.fullmatch(rfc)
    shown = html.escape(rfc).replace(" ", "&nbsp;")  # a reference is not broken across lines
    if match is None:
        return shown
    url = f"https://www.rfc-editor.org/rfc/rfc{match[1]}"
    if match[2]:
        url += f"#section-{match[2]}"
    return f'<a href="{url}">{shown}</a>'


def css_size(font: QFont, scale: float) -> str:
    """``font``'s size times ``scale`` as a CSS size (points, or pixels for a font
    sized in pixels)."""
    if font.pointSizeF() > 0:
        return f"{font.pointSizeF() * scale:.1f}pt"
    return f"{max(font.pixelSize(), 1) * scale:.0f}px"


def _value(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT - 1] + "…"


def explanation_html(message: Message, explanation: Explanation, *, grey: str,
                     meaning_size: str) -> str:
    """The Explain tab's page for ``message``."""
    who = "client → server" if message.sender is Sender.CLIENT else "server → client"
    parts = [
        f'<p style="color:{grey}">#{message.id} · {html.escape(message.protocol)} · {who}'
        f"<br><b>{html.escape(message.summary)}</b></p>",
        f'<p style="font-size:{meaning_size}">{html.escape(explanation.meaning)}</p>',
    ]
    if explanation.rfc:
        parts.append(f'<p style="color:{grey}">{rfc_link(explanation.rfc)}</p>')
    if explanation.fields:
        parts.append(f'<p style="color:{grey}; margin-top:12px">FIELDS</p>')
    for note in explanation.fields:
        value = f" = <code>{html.escape(_value(note.value))}</code>" if note.value else ""
        source = f' <span style="color:{grey}">({rfc_link(note.rfc)})</span>' if note.rfc else ""
        parts.append(f'<p style="margin-top:6px"><b>{html.escape(note.name)}</b>{value}<br>'
                     f"{html.escape(note.note)}{source}</p>")
    return "\n".join(parts)


def explain_text(message: Message, answering: Message | None = None, *, fields: int = 0,
                 html_text: bool = False, width: int = TOOLTIP_WIDTH) -> str:
    """``message`` explained for a tooltip: its meaning, the notes on its first
    ``fields`` fields, and the RFC. ``answering``: the message it answers, if known.

    Plain text wrapped at ``width`` characters (it joins other tooltip lines), or
    with ``html_text`` rich text headed by the summary (Qt wraps it itself).
    """
    explanation = explain(message, answering)
    notes = [(note.name, note.note) for note in explanation.fields[:fields]]
    if html_text:
        parts = [f"<p><b>{html.escape(message.summary)}</b></p>",
                 f"<p>{html.escape(explanation.meaning)}</p>"]
        parts += [f"<p><b>{html.escape(name)}</b>: {html.escape(text)}</p>"
                  for name, text in notes]
        if explanation.rfc:
            parts.append(f"<p><i>{html.escape(explanation.rfc)}</i></p>")
        return "<qt>" + "".join(parts) + "</qt>"
    lines = textwrap.wrap(explanation.meaning, width)
    for name, text in notes:
        lines += textwrap.wrap(f"{name}: {text}", width)
    if explanation.rfc:
        lines.append(f"({explanation.rfc})")
    return "\n".join(lines)


class ExplainView(QTextBrowser):
    """The selected message's explanation: word-wrapped, selectable, RFC links open."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setPlaceholderText(EMPTY_TEXT)
        self._shown: tuple[Message, Message | None] | None = None

    def show_message(self, message: Message | None, answering: Message | None = None) -> None:
        """Explain ``message`` (None: the empty state); ``answering`` is what it answers."""
        self._shown = None if message is None else (message, answering)
        self._render()

    def meaning_text(self) -> str:
        """The meaning as shown (empty when nothing is selected); tests read it."""
        if self._shown is None:
            return ""
        return explain(*self._shown).meaning

    def _render(self) -> None:
        if self._shown is None:
            self.clear()
            return
        message, answering = self._shown
        self.setHtml(explanation_html(message, explain(message, answering),
                                      grey=theme.colour("faint"),
                                      meaning_size=css_size(self.font(), MEANING_SCALE)))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self._render()  # the meaning's size follows the view's font, the grey the look
