"""Test a plugin inside your own test, over a real socket, with the host's
side of the protocol (health, Handshake, Configure) done for you:

    async def test_greet():
        async with TestHost(plugin) as host:
            assert await host.call_tool("greet", {"name": "Ada"}) == ToolOutcome("hello, Ada!", False)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc

from .host import ToolOutcome
from .serve import Running

if TYPE_CHECKING:
    from .declarations import Declarations
from .v1 import (
    command_pb2,
    command_pb2_grpc,
    hook_pb2,
    hook_pb2_grpc,
    plugin_pb2,
    plugin_pb2_grpc,
    tool_pb2,
    tool_pb2_grpc,
)


class CommandRun:
    """What a command wrote and its exit code."""

    def __init__(self, stdout: bytes, stderr: bytes, code: int) -> None:
        self.stdout, self.stderr, self.code = stdout, stderr, code


class TestHost:
    """Serves `plugin` in this event loop and talks to it as a host does."""

    __test__ = False  # not a pytest class

    def __init__(self, plugin: Declarations, config: dict[str, Any] | None = None, host_socket: str | None = None) -> None:
        self.plugin = plugin
        self.config = config or {}
        self._dir = tempfile.TemporaryDirectory(prefix="pw-test-")
        self.socket_path = os.path.join(self._dir.name, "plugin.sock")
        self._running = Running(plugin, self.socket_path, 1, host_socket)
        self.channel = grpc.aio.insecure_channel(f"unix://{self.socket_path}")
        self.handshake: plugin_pb2.HandshakeResponse | None = None

    async def __aenter__(self) -> TestHost:
        await self._running.start()
        try:
            stub = plugin_pb2_grpc.PluginServiceStub(self.channel)
            self.handshake = await stub.Handshake(
                plugin_pb2.HandshakeRequest(protocol_version=1, plugin_name=self.plugin.name)
            )
            await stub.Configure(plugin_pb2.ConfigureRequest(config_json=json.dumps(self.config)))
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start_unconfigured(self) -> TestHost:
        """Serves the plugin without the handshake or `Configure`, to test
        what it does before them; `close()` when done."""
        await self._running.start()
        return self

    async def close(self) -> None:
        """Stops the plugin and removes its socket."""
        await self.channel.close()
        self._running.stop(0.5)
        await self._running.wait()
        self._dir.cleanup()

    async def list_tools(self) -> list[tool_pb2.Tool]:
        return list((await tool_pb2_grpc.ToolServiceStub(self.channel).ListTools(tool_pb2.ListToolsRequest())).tools)

    async def call_tool(self, name: str, arguments: Any = None, timeout: float | None = 10.0) -> ToolOutcome:
        """Calls a tool; protocol errors raise `grpc.aio.AioRpcError`."""
        text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        r = await tool_pb2_grpc.ToolServiceStub(self.channel).CallTool(
            tool_pb2.CallToolRequest(name=name, arguments_json=text), timeout=timeout
        )
        return ToolOutcome(json.loads(r.result.content_json), r.result.is_error)

    async def call_tool_stream(self, name: str, arguments: Any = None) -> tuple[list[tool_pb2.ToolProgress], ToolOutcome]:
        """Calls a tool streaming: its progress reports and result."""
        progress: list[tool_pb2.ToolProgress] = []
        outcome = None
        stream = tool_pb2_grpc.ToolServiceStub(self.channel).CallToolStream(
            tool_pb2.CallToolStreamRequest(name=name, arguments_json=json.dumps(arguments or {})), timeout=10.0
        )
        async for event in stream:
            if event.HasField("progress"):
                progress.append(event.progress)
            else:
                outcome = ToolOutcome(json.loads(event.result.content_json), event.result.is_error)
        assert outcome is not None, "the stream ended without a result"
        return progress, outcome

    async def run_command(
        self, command: str, flags: dict[str, Any] | None = None, args: Sequence[str] = (), stdin: bytes = b""
    ) -> CommandRun:
        """Runs a command with `stdin`, then closes it."""

        async def requests() -> Any:
            yield command_pb2.RunCommandRequest(
                start=command_pb2.CommandStart(command=command, flags_json=json.dumps(flags or {}), args=list(args))
            )
            if stdin:
                yield command_pb2.RunCommandRequest(stdin=stdin)
            yield command_pb2.RunCommandRequest(stdin_close=command_pb2.StdinClose())

        out, err, code = b"", b"", -1
        async for r in command_pb2_grpc.CommandServiceStub(self.channel).RunCommand(requests(), timeout=10.0):
            kind = r.WhichOneof("message")
            if kind == "stdout":
                out += r.stdout
            elif kind == "stderr":
                err += r.stderr
            else:
                code = r.exit.code
        return CommandRun(out, err, code)

    async def emit(self, name: str, payload: Any, intercept: bool = True) -> hook_pb2.HandleEventResponse:
        """Delivers an event to the plugin's hooks as the host would."""
        response: hook_pb2.HandleEventResponse = await hook_pb2_grpc.HookServiceStub(self.channel).HandleEvent(
            hook_pb2.HandleEventRequest(
                event=hook_pb2.Event(id="test", name=name, payload_json=json.dumps(payload), source="host"),
                mode=hook_pb2.HOOK_MODE_INTERCEPT if intercept else hook_pb2.HOOK_MODE_OBSERVE,
            ),
            timeout=10.0,
        )
        return response
