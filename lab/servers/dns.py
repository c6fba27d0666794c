"""Being written (issue 6)."""

from lab.servers import ServerKind

KINDS: tuple[ServerKind, ...] = ()
