"""The host's callback service (docs/protocol.md section 13): storage,
events and other plugins' tools, each gated by a permission the user
granted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from .v1 import host_pb2, host_pb2_grpc

#: PW-DL-3: the plugin's own calls carry deadlines.
DEFAULT_TIMEOUT_S = 30.0
CALL_CHAIN = "plugwire-call-chain"


class HostUnavailable(Exception):
    """The host offers no callback service to this plugin (it did not list
    `host.service`, or the plugin runs outside a host)."""


@dataclass(frozen=True)
class ToolOutcome:
    """Another tool's result: its JSON content and whether it failed."""

    content: Any
    is_error: bool


@dataclass(frozen=True)
class EmitOutcome:
    """What became of an emitted event."""

    id: str
    denied: bool
    reason: str
    payload: Any


class HostClient:
    """Calls into the host. Reached as `cx.host` in any handler; errors are
    `grpc.aio.AioRpcError` (for example `PERMISSION_DENIED` naming the
    permission the manifest must request)."""

    def __init__(
        self,
        socket_path: str | None,
        enabled: bool,
        chain: str | None = None,
        services: Sequence[str] = (),
    ) -> None:
        self._socket_path = socket_path
        self._enabled = enabled and socket_path is not None
        self._chain = chain
        self._services = tuple(services)
        self._channel: grpc.aio.Channel | None = None

    def _for_call(self, chain: str | None) -> HostClient:
        """The same connection, carrying the call chain of one tool call."""
        other = HostClient(self._socket_path, self._enabled, chain, self._services)
        other._channel = self._stub_channel()
        return other

    @property
    def services(self) -> tuple[str, ...]:
        """The application's own gRPC services this plugin may call on the
        host channel (`HandshakeRequest.host_services`, each granted as
        `host.service:<name>`)."""
        return self._services

    @property
    def channel(self) -> grpc.aio.Channel:
        """The host channel, for the stubs of the application's services,
        e.g. `SessionsStub(cx.host.channel)`. The host answers
        `PERMISSION_DENIED` for a service not in `services`."""
        channel = self._stub_channel()
        if channel is None:
            raise HostUnavailable(
                "the host offers no HostService to this plugin: it did not list the "
                "`host.service` feature, or PLUGWIRE_HOST_SOCKET is not set"
            )
        return channel

    def _stub_channel(self) -> grpc.aio.Channel | None:
        if not self._enabled:
            return None
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                f"unix://{self._socket_path}", options=[("grpc.default_authority", "localhost")]
            )
        return self._channel

    def _stub(self) -> host_pb2_grpc.HostServiceStub:
        channel = self._stub_channel()
        if channel is None:
            raise HostUnavailable(
                "the host offers no HostService to this plugin: it did not list the "
                "`host.service` feature, or PLUGWIRE_HOST_SOCKET is not set"
            )
        return host_pb2_grpc.HostServiceStub(channel)

    def _metadata(self) -> Sequence[tuple[str, str]]:
        return ((CALL_CHAIN, self._chain),) if self._chain else ()

    async def get(self, key: str) -> bytes | None:
        """The stored value of `key` (permission `host.storage`)."""
        r = await self._stub().GetValue(host_pb2.GetValueRequest(key=key), timeout=DEFAULT_TIMEOUT_S)
        return r.value if r.found else None

    async def put(self, key: str, value: bytes | str) -> None:
        """Stores `value` under `key`, durably (permission `host.storage`)."""
        raw = value.encode() if isinstance(value, str) else value
        await self._stub().PutValue(host_pb2.PutValueRequest(key=key, value=raw), timeout=DEFAULT_TIMEOUT_S)

    async def delete(self, key: str) -> bool:
        """Removes `key`; whether it existed (permission `host.storage`)."""
        r = await self._stub().DeleteValue(host_pb2.DeleteValueRequest(key=key), timeout=DEFAULT_TIMEOUT_S)
        return bool(r.existed)

    async def keys(self, prefix: str = "", limit: int = 0) -> list[str]:
        """Every stored key starting with `prefix`, in order (permission
        `host.storage`)."""
        keys: list[str] = []
        after = ""
        while True:
            r = await self._stub().ListKeys(
                host_pb2.ListKeysRequest(prefix=prefix, limit=limit, start_after=after),
                timeout=DEFAULT_TIMEOUT_S,
            )
            keys.extend(r.keys)
            if not r.more or not r.keys or (limit and len(keys) >= limit):
                return keys[:limit] if limit else keys
            after = r.keys[-1]

    async def emit(self, name: str, payload: Any = None) -> EmitOutcome:
        """Emits an event to the hooks that subscribe to it (permission
        `host.events.emit`)."""
        r = await self._stub().EmitEvent(
            host_pb2.EmitEventRequest(name=name, payload_json=json.dumps(payload)),
            timeout=DEFAULT_TIMEOUT_S,
            metadata=self._metadata(),
        )
        final = json.loads(r.final_payload_json) if r.final_payload_json else None
        return EmitOutcome(r.id, r.denied, r.deny_reason, final)

    async def call_tool(self, tool: str, arguments: Any = None, timeout: float = DEFAULT_TIMEOUT_S) -> ToolOutcome:
        """Calls another plugin's tool, `plugin.tool` or a bare name
        (permission `host.tools.call`)."""
        r = await self._stub().CallPluginTool(
            host_pb2.CallPluginToolRequest(tool=tool, arguments_json=json.dumps(arguments or {})),
            timeout=timeout,
            metadata=self._metadata(),
        )
        content = json.loads(r.result.content_json) if r.result.content_json else None
        return ToolOutcome(content, r.result.is_error)

    async def close(self) -> None:
        if self._channel is not None and self._chain is None:
            await self._channel.close()
