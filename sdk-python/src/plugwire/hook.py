"""Hooks: ordered events a plugin observes or intercepts (docs/protocol.md
section 7)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .v1 import hook_pb2


@dataclass(frozen=True)
class HookEvent:
    """An event delivered to a hook: its name, its JSON payload, who
    emitted it (`host` or `plugin:NAME`) and the pattern that matched."""

    id: str
    name: str
    payload: Any
    source: str
    time: datetime | None
    pattern: str


@dataclass(frozen=True)
class Decision:
    """What an intercepting hook decides (PW-HOOK-4). Returning `None`
    from a hook continues.

    >>> Decision.deny("not on Sundays").reason
    'not on Sundays'
    """

    kind: hook_pb2.Decision
    payload: Any = None
    reason: str = ""

    @classmethod
    def proceed(cls) -> Decision:
        """Let the event through unchanged."""
        return cls(hook_pb2.DECISION_CONTINUE)

    @classmethod
    def modify(cls, payload: Any) -> Decision:
        """Replace the payload for later hooks and the emitter."""
        return cls(hook_pb2.DECISION_MODIFY, payload=payload)

    @classmethod
    def deny(cls, reason: str) -> Decision:
        """Stop the event; the emitter learns `reason`."""
        if not reason:
            raise ValueError("a denial needs a reason the emitter can read")
        return cls(hook_pb2.DECISION_DENY, reason=reason)

    def response(self) -> hook_pb2.HandleEventResponse:
        payload = json.dumps(self.payload) if self.kind == hook_pb2.DECISION_MODIFY else ""
        return hook_pb2.HandleEventResponse(decision=self.kind, payload_json=payload, reason=self.reason)


HookHandler = Callable[[HookEvent], Awaitable[Decision | None]]


@dataclass(frozen=True)
class Hook:
    """One subscription. Made by `Plugin.hook`."""

    pattern: str
    intercept: bool
    handler: HookHandler
    priority: int = 0
    fail_closed: bool = False

    def subscription(self) -> hook_pb2.HookSubscription:
        return hook_pb2.HookSubscription(
            pattern=self.pattern,
            mode=hook_pb2.HOOK_MODE_INTERCEPT if self.intercept else hook_pb2.HOOK_MODE_OBSERVE,
            priority=self.priority,
            failure_policy=(
                hook_pb2.FAILURE_POLICY_CLOSED if self.fail_closed else hook_pb2.FAILURE_POLICY_OPEN
            )
            if self.intercept
            else hook_pb2.FAILURE_POLICY_UNSPECIFIED,
        )

    def matches(self, name: str) -> bool:
        """PW-HOOK-2: `*`, the exact name, or `prefix.*`."""
        if self.pattern == "*":
            return True
        if self.pattern.endswith(".*"):
            return name.startswith(self.pattern[:-1]) and len(name) > len(self.pattern) - 1
        return name == self.pattern
