"""What a plugin declares, as the services read it: `Plugin` builds it,
`serve` and `testing` take it, and neither needs the other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import grpc

from .command import Command
from .hook import Hook
from .tool import Tool

#: A provider: (service, name, registers it on the server).
Provider = tuple[str, str, Callable[[grpc.aio.Server], None]]


class Declarations(Protocol):
    """A plugin's identity and everything it offers."""

    name: str
    version: str
    description: str
    tools: dict[str, Tool]
    commands: dict[str, Command]
    hooks: list[Hook]
    providers: list[Provider]
    features: list[str]
    configure_hooks: list[Callable[[dict[str, Any]], Awaitable[None]]]
