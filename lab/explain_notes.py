"""The notes behind :mod:`lab.explain`: ``resources/explain/*.toml``, read once.

The files read are ``GENERAL`` and those the kinds name (lab/kinds.py). A file says
which protocols it explains; a protocol's notes are ``common.toml``'s
overlaid by each of its own files (in name order). A file holds:

- ``[explain]``: ``protocols`` (the Message.protocol values it explains),
  ``titles`` (protocol → the name a sentence uses), ``answers`` (protocol →
  ``{field, verbs, senders, phrase}``: the field naming the question a message
  answers, the value group noting that question's verb, which senders' messages
  carry it, and the field's note, a template over ``{asked}``), ``aliases`` (an
  answered summary's first word → the verb it stands for), ``lead`` (protocol →
  ``{client = [...], server = [...]}``: fields whose value note gives the meaning,
  tried before the rest), and ``[[explain.extract]]`` rules (below);
- ``[value.<field>.<value>]``: a note on one value of a field (``[value.code.250]``);
  every ``header: <Name>`` and ``trailer: <Name>`` field is looked up in
  ``[value.header.<name>]``. Keys match case-insensitively; a code without a note
  of its own falls back to its class (``5xx``, ``4xxx``, ``5.7.x``, ``5.x.x``);
- ``[field.<field>]``: a note on a field whatever its value (``answer 2`` finds
  ``[field.answer]``);
- ``[answer.<verb>]``: what a reply to that verb means, by code, class or status;
- ``[message.<key>]``: the meaning of a message no field explains (``malformed``,
  ``<protocol> <sender>``, ``<sender>``); ``[flag.<name>]``: the Message flags.

Every note is a table with ``note`` (a sentence or two) and ``rfc`` (``RFC 5321
§4.1.1.2``; a note on the lab's own ideas says ``source = "lab"`` instead); it may
add ``meaning``: the message as a whole when the note explains its leading field.
A meaning is a template, or a list of them tried in order: ``{name}`` is a field's
value, a header's by its lower-case name (``{location}``), ``{asked}`` the summary
of the question answered, ``{protocol}``, ``{sender}``, ``{summary}``, or a group an
extract rule captured. A template naming something the message lacks is skipped.

An extract rule finds notes inside a field's value: ``fields`` (a regex the field
name must match), ``pattern`` (a regex searched in the value; its named groups
join the template values), ``key`` (the group looked up; the whole value without
a pattern), ``group`` (the value group it is looked up in; none: the rule only
captures template values), ``split`` (look up each word of the key).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from lab import kinds
from lab.paths import resources_dir

#: Where the notes live, under resources/.
NOTES_DIR = "explain"
#: The notes files no one kind owns: the common notes and the raw bytes'.
GENERAL = ("common.toml", "raw.toml")

T = TypeVar("T")

_CODE = re.compile(r"[1-6]\d\d")
_LONG_CODE = re.compile(r"[1-9]\d\d\d")


@dataclass(frozen=True, slots=True)
class Note:
    """One plain-language note, the RFC section it comes from, and meaning templates."""

    text: str
    rfc: str
    meaning: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Answers:
    """Which field of a protocol's messages names the question they answer."""

    field: str
    verbs: str
    senders: frozenset[str]
    phrase: str


@dataclass(frozen=True, slots=True)
class Extract:
    """A rule that finds notes inside a field's value (see the module's docstring)."""

    fields: re.Pattern[str]
    pattern: re.Pattern[str] | None
    key: str
    group: str
    split: bool


@dataclass(slots=True)
class Notes:
    """Every note for one protocol (``common.toml`` merged with its own files)."""

    title: str = ""
    answers: Answers | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    lead: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extracts: list[Extract] = field(default_factory=list)
    values: dict[str, dict[str, Note]] = field(default_factory=dict)
    fields: dict[str, Note] = field(default_factory=dict)
    replies: dict[str, dict[str, str]] = field(default_factory=dict)
    messages: dict[str, Note] = field(default_factory=dict)
    flags: dict[str, Note] = field(default_factory=dict)

    def value(self, group: str, key: str) -> Note | None:
        """The note on ``key`` in ``group``; its class's note if it has none."""
        notes = self.values.get(group.lower())
        if notes is None:
            return None
        return lookup(notes, key)

    def field_named(self, name: str) -> Note | None:
        """The note on field ``name``, or on its family (``answer 2`` → ``answer``)."""
        name = name.lower()
        return self.fields.get(name) or self.fields.get(re.sub(r" \d+$", "", name))


def lookup(table: Mapping[str, T], key: str) -> T | None:
    """``table[key]`` matched without case, else the entry of the key's class, else None."""
    key = key.strip().lower()
    return next((table[k] for k in (key, *fallbacks(key)) if k in table), None)


def fallbacks(key: str) -> list[str]:
    """Where a code without a note of its own looks next: ``404`` → ``4xx``, ``4001`` →
    ``4xxx``, ``5.7.8`` → ``5.7.x`` then ``5.x.x``."""
    if _CODE.fullmatch(key):
        return [key[0] + "xx"]
    if _LONG_CODE.fullmatch(key):
        return [key[0] + "xxx"]
    parts = key.split(".")
    if len(parts) == 3 and all(part.isdigit() for part in parts):
        return [f"{parts[0]}.{parts[1]}.x", f"{parts[0]}.x.x"]
    return []


# -- loading ------------------------------------------------------------------------


def notes_dir() -> Path:
    return resources_dir() / NOTES_DIR


def load_files(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every notes file, parsed: file name → its TOML. TOMLDecodeError if one is bad."""
    folder = notes_dir() if folder is None else folder
    return {path.name: tomllib.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("*.toml"))}


def kind_files() -> dict[str, dict[str, Any]]:
    """The notes every kind shares (``GENERAL``) and each kind's own files (lab/kinds.py:
    a name under resources/explain, or a path), parsed: name → its TOML."""
    return _kind_files((*GENERAL, *kinds.explain_files()))


@cache
def _kind_files(names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {name: tomllib.loads((notes_dir() / name).read_text(encoding="utf-8"))
            for name in names}


def catalogue() -> dict[str, Notes]:
    """Protocol → its Notes ("*": the common ones alone), loaded once per table."""
    return _catalogue((*GENERAL, *kinds.explain_files()))


@cache
def _catalogue(names: tuple[str, ...]) -> dict[str, Notes]:
    files = dict(_kind_files(names))
    common = files.pop("common.toml", {})
    result = {"*": merge(Notes(), common, "*")}
    for protocol in sorted({p for data in files.values() for p in _protocols(data)}):
        notes = merge(Notes(), common, protocol)
        for data in files.values():
            if protocol in _protocols(data):
                merge(notes, data, protocol)
        result[protocol] = notes
    return result


def notes_for(protocol: str) -> Notes:
    found = catalogue()
    return found.get(protocol, found["*"])


def _protocols(data: Mapping[str, Any]) -> list[str]:
    return list(data.get("explain", {}).get("protocols", []))


def note(data: Mapping[str, Any]) -> Note:
    meaning = data.get("meaning", ())
    meaning = (meaning,) if isinstance(meaning, str) else tuple(meaning)
    return Note(str(data["note"]).strip(), str(data.get("rfc", "")), meaning)


def _notes(table: Mapping[str, Any]) -> dict[str, Note]:
    return {str(key).lower(): note(value) for key, value in table.items()}


def merge(notes: Notes, data: Mapping[str, Any], protocol: str) -> Notes:
    """Add one file's notes to ``notes`` (those for ``protocol`` where it matters)."""
    config = data.get("explain", {})
    notes.title = config.get("titles", {}).get(protocol, notes.title)
    answers = config.get("answers", {}).get(protocol)
    if answers is not None:
        notes.answers = Answers(
            answers["field"], answers.get("verbs", answers["field"]),
            frozenset(answers.get("senders", ["server"])),
            answers.get("phrase", "This answers “{asked}”."))
    lead = config.get("lead", {}).get(protocol, {})
    notes.lead.update({sender: tuple(names) for sender, names in lead.items()})
    notes.aliases.update({k.lower(): v.lower() for k, v in config.get("aliases", {}).items()})
    notes.extracts += [_extract(rule) for rule in config.get("extract", [])]
    for group, table in data.get("value", {}).items():
        notes.values.setdefault(group.lower(), {}).update(_notes(table))
    notes.fields.update(_notes(data.get("field", {})))
    notes.messages.update(_notes(data.get("message", {})))
    notes.flags.update(_notes(data.get("flag", {})))
    for verb, table in data.get("answer", {}).items():
        notes.replies.setdefault(verb.lower(), {}).update(
            {str(k).lower(): str(v) for k, v in table.items()})
    return notes


def _extract(rule: Mapping[str, Any]) -> Extract:
    pattern = rule.get("pattern")
    return Extract(re.compile(rule["fields"], re.I), re.compile(pattern) if pattern else None,
                   rule.get("key", ""), rule.get("group", ""), bool(rule.get("split", False)))
