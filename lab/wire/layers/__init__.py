"""Layers on a TCP link: protocol-specific work between its two Legs.

A layer (``lab.wire.link.Layer``) sees every chunk of each direction and passes
it on, maybe rewritten, maybe after opening helper connections: FTP's
data-address rewrite today (lab/wire/layers/ftp.py), TLS decryption next.

The kind table (lab/kinds.py, ``Kind.layers``) names, per protocol, the modules
of its layers, outermost first; each module has ``make(link, send) -> Layer``. A
module is imported the first time a Wire of its protocol is made, so a lab
without FTP never loads it.
"""

from __future__ import annotations

import importlib

from lab import kinds
from lab.wire.link import Layer, LayerFactory, Send

__all__ = ["Layer", "LayerFactory", "Send", "layers_for"]

_loaded: dict[str, tuple[LayerFactory, ...]] = {}


def layers_for(protocol: str) -> tuple[LayerFactory, ...]:
    """The layers a link of ``protocol`` gets (none for most), loading their modules."""
    layers = _loaded.get(protocol)
    if layers is None:
        modules = kinds.layers(protocol)
        layers = tuple(importlib.import_module(name).make for name in modules)
        _loaded[protocol] = layers
    return layers
