"""A password per student, for a server shared with a class.

With the ``students`` option at N (1-MAX_STUDENTS), a server with logins (POP3, SMTP
AUTH, FTP) has the users ``student1`` … ``studentN``, each with a password of its own
(two short words and a number, easy to read off a projected screen): the panel lists
them to hand out. The passwords come from a secret kept in the lab's data folder
(made on first use), so they stay the same when the server restarts (sharing it
restarts it) and differ between machines. The lab's one password still works from
this machine (the teacher's own clients), never from another one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from lab.paths import data_dir

MAX_STUDENTS = 60
SECRET_FILE = "student-secret"
_WORDS = ("amber", "birch", "cedar", "delta", "ember", "fern", "grove", "harbor", "iris",
          "jade", "kite", "lemon", "maple", "north", "olive", "pearl", "quartz", "river",
          "sage", "tide", "umber", "violet", "willow", "yarrow", "zephyr", "coral", "dune",
          "flint", "heron", "lark", "moss", "otter")


def students_option(text: str | None) -> int:
    """The ``students`` option: 0 (off) or how many student users, saying why not."""
    value = (text or "0").strip()
    if not value.isdigit() or int(value) > MAX_STUDENTS:
        raise ValueError(f"students must be a whole number from 0 (off) to {MAX_STUDENTS}, "
                         f"not {text!r}")
    return int(value)


def _secret(folder: Path | None = None) -> bytes:
    path = (folder or data_dir()) / SECRET_FILE
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = b""
    if len(secret) < 16:
        secret = secrets.token_bytes(32)
        path.write_bytes(secret)
        path.chmod(0o600)
    return secret


def student_passwords(count: int, realm: str, folder: Path | None = None) -> dict[str, str]:
    """``{"student1": "maple-otter-42", …}``: ``count`` users and their passwords, the
    same each time for one ``realm`` (the server kind: "mail", "ftp") on this machine."""
    if count <= 0:
        return {}
    secret = _secret(folder)
    users = {}
    for number in range(1, count + 1):
        user = f"student{number}"
        digest = hmac.new(secret, f"{realm}:{user}".encode(), hashlib.sha256).digest()
        first, second = _WORDS[digest[0] % len(_WORDS)], _WORDS[digest[1] % len(_WORDS)]
        users[user] = f"{first}-{second}-{int.from_bytes(digest[2:4], 'big') % 90 + 10}"
    return users
