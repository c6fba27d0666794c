"""Plain-language explanations of messages: what a message means, and a note per field.

    explain(message, answering=None) -> Explanation(meaning, fields, rfc)

The words are data (``resources/explain/*.toml``, see :mod:`lab.explain_notes` for
their layout); this module picks the notes that fit a message. The meaning comes
from, in order: a message the lab could not read (``malformed``); what a reply
means after the command it answers (``[answer.MAIL] 250``); the note on the
message's leading field (the first one whose value has a note: a method, a status,
a command, a code), its ``meaning`` template or else its note; the protocol's
note for any message from this sender. It is never empty.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lab.explain_notes import Note, Notes, lookup, notes_for
from lab.model import FieldValue, Message

#: Field names whose value is noted under another group: ``header: Host`` → ``header``.
GROUPED = ("header", "trailer")
FLAGS = ("malformed", "truncated", "injected", "held")

__all__ = ["Explanation", "FieldNote", "explain", "field_notes", "fill", "notes_for",
           "value_notes"]


@dataclass(frozen=True, slots=True)
class FieldNote:
    """A note on one of a message's fields (``name`` as the dissector named it)."""

    name: str
    value: str
    note: str
    rfc: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """A message in words: ``meaning`` (the whole of it), then notes on its fields."""

    meaning: str
    fields: tuple[FieldNote, ...] = ()
    rfc: str = ""


def explain(message: Message, answering: Message | None = None) -> Explanation:
    """``message`` in plain words.

    ``answering`` is the message it answers when the caller knows it (the
    inspector's pairing); without it, the question is read from the message's
    own fields (a reply's ``command``, a response's ``request``).
    """
    notes = notes_for(message.protocol)
    asked, verb = _question(notes, message, answering)
    context = _context(notes, message, asked)
    meaning, rfc = _meaning(notes, message, verb, context)
    return Explanation(meaning, tuple(_field_notes(notes, message, verb)), rfc)


def field_notes(notes: Notes, name: str, value: FieldValue) -> list[Note]:
    """The notes on one field: on its value (or on words in it), else on the field."""
    group, _, rest = name.partition(": ")
    own = notes.field_named(group if rest and group in GROUPED else name)
    return value_notes(notes, name, value) or _some(own)


def value_notes(notes: Notes, name: str, value: FieldValue) -> list[Note]:
    """The notes on one field's value: a header by its name, words an extract rule
    finds in it, or the value itself."""
    group, _, rest = name.partition(": ")
    if rest and group in GROUPED:
        return _some(notes.value("header", rest))
    text = _key(value)
    for rule in notes.extracts:
        if rule.group and rule.fields.fullmatch(name):
            match = rule.pattern.search(text) if rule.pattern else None
            key = (match[rule.key] or "") if match and rule.key else "" if rule.pattern else text
            words = key.split() if rule.split else [key] if key else []
            found = [n for n in (notes.value(rule.group, w) for w in words) if n]
            if found:
                return found
    return _some(notes.value(name, text))


def _some(note: Note | None) -> list[Note]:
    return [] if note is None else [note]


def _key(value: FieldValue) -> str:
    return str(value).lower() if isinstance(value, bool) else "" if value is None else str(value)


def _answers_role(notes: Notes, message: Message, name: str) -> bool:
    answers = notes.answers
    return answers is not None and name == answers.field and (
        message.sender.value in answers.senders)


def _question(notes: Notes, message: Message, answering: Message | None) -> tuple[str, str]:
    """The summary of the question ``message`` answers and that question's verb ("" if none)."""
    if answering is not None and answering.fields:
        name, value = answering.fields[0]
        answers = notes.answers
        if answers is not None and name == answers.verbs:
            return answering.summary, str(value).lower()
        return answering.summary, _verb(notes, answering.summary)
    for name, value in message.fields:
        if _answers_role(notes, message, name) and value is not None:
            return str(value), _verb(notes, str(value))
    return "", ""


def _verb(notes: Notes, summary: str) -> str:
    word = summary.split(" ", 1)[0].lower()
    return notes.aliases.get(word, word.rstrip(":"))


def _context(notes: Notes, message: Message, asked: str) -> dict[str, str]:
    """The values a meaning template may name."""
    context: dict[str, str] = {}
    for name, value in message.fields:
        group, _, rest = name.partition(": ")
        key = rest.lower() if rest and group in GROUPED else name  # {location}, {upgrade}
        context.setdefault(key, _key(value))
        for rule in notes.extracts:
            match = rule.pattern.search(_key(value)) if rule.pattern else None
            if match and rule.fields.fullmatch(name):
                for group_name, text in match.groupdict().items():
                    context.setdefault(group_name, text or "")
    context.update(protocol=notes.title or message.protocol.upper(), summary=message.summary,
                   sender=message.sender.value)
    if asked:
        context["asked"] = asked
    return context


def fill(templates: str | tuple[str, ...], context: Mapping[str, str]) -> str | None:
    """The first template whose ``{names}`` all have a value in ``context``, filled in."""
    for template in (templates,) if isinstance(templates, str) else templates:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        if all(context.get(name) for name in names):
            return template.format_map(context)
    return None


def _meaning(notes: Notes, message: Message, verb: str, context: dict[str, str]
             ) -> tuple[str, str]:
    """The message as a whole, and the RFC that says so."""
    if message.malformed and "malformed" in notes.messages:
        note = notes.messages["malformed"]
        return fill(note.meaning, context) or note.text, note.rfc
    if message.injected and not message.raw and "note" in notes.messages:
        note = notes.messages["note"]  # a Wire's or a server's note: no bytes crossed
        return fill(note.meaning, context) or note.text, note.rfc
    lead = _lead(notes, message)
    if lead is not None:
        note, value = lead
        reply = lookup(notes.replies.get(verb, {}), value) if verb else None
        said = fill(reply, context) if reply else None
        return said or fill(note.meaning, context) or note.text, note.rfc
    for key in (f"{message.protocol} {message.sender.value}", message.sender.value):
        general = notes.messages.get(key)
        if general is not None:
            return fill(general.meaning, context) or general.text, general.rfc
    return f"A {context['protocol']} message from the {message.sender.value}.", ""


def _lead(notes: Notes, message: Message) -> tuple[Note, str] | None:
    """The note that explains the message as a whole, and the value it is about.

    Tried in order: the protocol's ``lead`` fields for this sender, then every other
    field but headers and the one naming the question (on its value), then any
    field whose own note has a meaning.
    """
    fields = [(n, v) for n, v in message.fields if not _answers_role(notes, message, n)]
    first = [n.lower() for n in notes.lead.get(message.sender.value, ())]
    leading = sorted((f for f in fields if f[0].lower() in first),
                     key=lambda f: first.index(f[0].lower()))
    rest = [f for f in fields if f[0].lower() not in first
            and f[0].partition(": ")[0] not in GROUPED]
    for name, value in leading + rest:
        found = value_notes(notes, name, value)
        if found:
            return found[0], _key(value)
    for name, value in fields:
        note = notes.field_named(name)
        if note is not None and note.meaning:
            return note, _key(value)
    return None


def _field_notes(notes: Notes, message: Message, verb: str) -> Iterator[FieldNote]:
    seen: set[tuple[str, str]] = set()
    for name, value in message.fields:
        shown = "" if value is None else str(value)
        if _answers_role(notes, message, name):
            found = _some(_answered_note(notes, verb, shown))
        else:
            found = field_notes(notes, name, value)
        for note in found:
            if (name, note.text) not in seen:
                seen.add((name, note.text))
                yield FieldNote(name, shown, note.text, note.rfc)
    for flag in FLAGS:
        flag_note = notes.flags.get(flag)
        if getattr(message, flag) and flag_note is not None:
            yield FieldNote(flag, "yes", flag_note.text, flag_note.rfc)


def _answered_note(notes: Notes, verb: str, asked: str) -> Note | None:
    """The note on the field naming the question, with the note on the question's verb."""
    answers = notes.answers
    if answers is None:
        return None
    said = fill(answers.phrase, {"asked": asked}) or ""
    about = notes.value(answers.verbs, verb) if verb else None
    if about is None:
        return Note(said, "") if said else None
    return Note(f"{said} {about.text}".strip(), about.rfc)
