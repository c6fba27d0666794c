"""Being written (issue 6)."""

from lab.clients import ClientKind

KINDS: tuple[ClientKind, ...] = ()
