"""The protocol's services over a plugin's declarations (grpc.aio)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import timezone
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, TypeVar

import grpc

from ._version import __version__
from .command import CommandContext, Output, Stdin
from .hook import HookEvent
from .host import CALL_CHAIN, HostClient
from .errors import ConfigError
from .schema import located
from .tool import Tool, ToolContext
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

if TYPE_CHECKING:
    from .declarations import Declarations

log = logging.getLogger("plugwire")
#: PW-SHUT-1: the drain of a stop that names no grace (plugwire's Shutdown
#: without one, go-plugin's controller).
DEFAULT_GRACE_S = 5.0
#: PW-TOOL-16's mark: the host checked the arguments against our schema.
ARGUMENTS_VALIDATED = "plugwire-arguments-validated"
Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]


class State:
    """What every service shares: the plugin, whether it is configured, and
    how to stop."""

    def __init__(self, plugin: Declarations, version: int, host_socket: str | None, stop: Callable[[float], None]) -> None:
        self.plugin = plugin
        self.version = version
        self.host_socket = host_socket
        self.stop = stop
        self.config: dict[str, Any] | None = None
        self.host = HostClient(host_socket, enabled=False)

    async def configured(self, context: Context) -> dict[str, Any]:
        """The configuration, or FAILED_PRECONDITION before `Configure`."""
        if self.config is None:
            await _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                "the plugin is not configured yet: the host calls Configure after Handshake, before any call",
            )
        assert self.config is not None
        return self.config

    def host_for(self, context: Context) -> HostClient:
        chain = dict(context.invocation_metadata() or ()).get(CALL_CHAIN)
        return self.host._for_call(chain if isinstance(chain, str) else None)


async def _abort(context: Context, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("abort returns only by raising")


class PluginService(plugin_pb2_grpc.PluginServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    async def Handshake(self, request: plugin_pb2.HandshakeRequest, context: Context) -> plugin_pb2.HandshakeResponse:
        s = self.state
        if request.protocol_version != s.version:
            await _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"protocol version {request.protocol_version} differs from the version printed ({s.version})",
            )
        s.host = HostClient(
            s.host_socket,
            enabled="host.service" in request.features,
            services=request.host_services,
        )
        p = s.plugin
        features = list(p.features)
        if p.tools:
            features.append("tool.progress")
        return plugin_pb2.HandshakeResponse(
            plugin=plugin_pb2.PluginInfo(name=p.name, version=p.version, description=p.description),
            sdk=plugin_pb2.SdkInfo(name="plugwire-python", version=__version__),
            features=features,
            capabilities=plugin_pb2.Capabilities(
                tools=list(p.tools),
                commands=list(p.commands),
                hooks=[h.subscription() for h in p.hooks],
                providers=[plugin_pb2.ProviderDeclaration(service=svc, name=name) for svc, name, _ in p.providers],
            ),
        )

    async def Configure(self, request: plugin_pb2.ConfigureRequest, context: Context) -> plugin_pb2.ConfigureResponse:
        s = self.state
        text = request.config_json.strip() or "{}"
        try:
            config = json.loads(text)
        except ValueError as e:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"config: expected a JSON object, the text is not JSON: {e}")
        if not isinstance(config, dict):
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"config: expected a JSON object, saw {text[:80]}")
        if s.config is not None:
            await _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                "the plugin is already configured; Configure is called once per process",
            )
        for hook in s.plugin.configure_hooks:
            try:
                await hook(config)
            except ConfigError as e:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e))
        s.config = config
        return plugin_pb2.ConfigureResponse()

    async def Shutdown(self, request: plugin_pb2.ShutdownRequest, context: Context) -> plugin_pb2.ShutdownResponse:
        grace = request.grace.seconds + request.grace.nanos / 1e9 if request.HasField("grace") else DEFAULT_GRACE_S
        self.state.stop(grace)
        return plugin_pb2.ShutdownResponse()


class ToolService(tool_pb2_grpc.ToolServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    async def ListTools(self, request: tool_pb2.ListToolsRequest, context: Context) -> tool_pb2.ListToolsResponse:
        return tool_pb2.ListToolsResponse(tools=[t.declaration() for t in self.state.plugin.tools.values()])

    async def _prepare(self, name: str, arguments_json: str, context: Context) -> tuple[Tool, Any, ToolContext]:
        config = await self.state.configured(context)
        tool = self.state.plugin.tools.get(name)
        if tool is None:
            known = ", ".join(self.state.plugin.tools) or "none"
            await _abort(context, grpc.StatusCode.NOT_FOUND, f"no tool {name!r}; this plugin has: {known}")
        marks = [v for k, v in context.invocation_metadata() or () if k == ARGUMENTS_VALIDATED]
        value, problem = tool.arguments.parse(arguments_json, validated=marks == ["1"])
        if problem is not None:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, located("arguments", *problem))
        remaining = context.time_remaining()
        cx = ToolContext(
            tool=name,
            config=config,
            host=self.state.host_for(context),
            _deadline=None if remaining is None else time.monotonic() + remaining,
        )
        return tool, value, cx

    async def CallTool(self, request: tool_pb2.CallToolRequest, context: Context) -> tool_pb2.CallToolResponse:
        tool, value, cx = await self._prepare(request.name, request.arguments_json, context)
        return tool_pb2.CallToolResponse(result=await tool.call(value, cx))

    async def CallToolStream(
        self, request: tool_pb2.CallToolStreamRequest, context: Context
    ) -> AsyncIterator[tool_pb2.CallToolStreamResponse]:
        tool, value, cx = await self._prepare(request.name, request.arguments_json, context)
        events: asyncio.Queue[tool_pb2.CallToolStreamResponse] = asyncio.Queue()
        cx._progress = lambda p: events.put_nowait(tool_pb2.CallToolStreamResponse(progress=p))
        call = asyncio.ensure_future(tool.call(value, cx))
        try:
            async for event in _while_running(call, events):
                yield event
            yield tool_pb2.CallToolStreamResponse(result=call.result())
        finally:
            call.cancel()


class CommandService(command_pb2_grpc.CommandServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    async def ListCommands(self, request: command_pb2.ListCommandsRequest, context: Context) -> command_pb2.ListCommandsResponse:
        return command_pb2.ListCommandsResponse(commands=[c.declaration() for c in self.state.plugin.commands.values()])

    async def RunCommand(
        self, requests: AsyncIterator[command_pb2.RunCommandRequest], context: Context
    ) -> AsyncIterator[command_pb2.RunCommandResponse]:
        config = await self.state.configured(context)
        incoming = requests.__aiter__()
        try:
            first = await incoming.__anext__()
        except StopAsyncIteration:
            return
        if first.WhichOneof("message") != "start":
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the first RunCommand message must be `start`")
        start = first.start
        command = self.state.plugin.commands.get(start.command)
        if command is None:
            known = ", ".join(self.state.plugin.commands) or "none"
            await _abort(context, grpc.StatusCode.NOT_FOUND, f"no command {start.command!r}; this plugin has: {known}")
        out: asyncio.Queue[command_pb2.RunCommandResponse] = asyncio.Queue()
        cx = CommandContext(
            command=start.command,
            flags=json.loads(start.flags_json or "{}"),
            args=list(start.args),
            env=dict(start.env),
            stdin=Stdin(),
            stdout=Output(lambda b: out.put_nowait(command_pb2.RunCommandResponse(stdout=b))),
            stderr=Output(lambda b: out.put_nowait(command_pb2.RunCommandResponse(stderr=b))),
            config=config,
            terminal=(start.terminal.columns, start.terminal.rows) if start.HasField("terminal") else None,
        )
        reader = asyncio.ensure_future(_read_input(incoming, cx))
        run = asyncio.ensure_future(command.handler(cx))
        try:
            async for message in _while_running(run, out):
                yield message
            try:
                code = run.result()
            except Exception:
                log.exception("command %s raised", start.command)
                yield command_pb2.RunCommandResponse(stderr=f"{start.command}: internal error (see the plugin's log)\n".encode())
                code = 1
            yield command_pb2.RunCommandResponse(exit=command_pb2.CommandExit(code=0 if code is None else int(code)))
        finally:
            run.cancel()
            reader.cancel()


T = TypeVar("T")


async def _while_running(task: asyncio.Future[Any], queue: asyncio.Queue[T]) -> AsyncIterator[T]:
    """What `task` queues, as it queues it, until it is done and all is sent."""
    while not task.done() or not queue.empty():
        getter = asyncio.ensure_future(queue.get())
        await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            yield getter.result()
        else:
            getter.cancel()


async def _read_input(incoming: AsyncIterator[command_pb2.RunCommandRequest], cx: CommandContext) -> None:
    try:
        async for message in incoming:
            kind = message.WhichOneof("message")
            if kind == "stdin":
                cx.stdin._feed(message.stdin)
            elif kind == "stdin_close":
                cx.stdin._feed(None)
            elif kind == "signal":
                cx.signal = message.signal
                cx.interrupted.set()
            elif kind == "resize":
                cx.terminal = (message.resize.columns, message.resize.rows)
    finally:
        # PW-CMD-5: a half-close ends stdin too.
        cx.stdin._feed(None)


class HookService(hook_pb2_grpc.HookServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    async def HandleEvent(self, request: hook_pb2.HandleEventRequest, context: Context) -> hook_pb2.HandleEventResponse:
        await self.state.configured(context)
        proceed = hook_pb2.HandleEventResponse(decision=hook_pb2.DECISION_CONTINUE)
        intercept = request.mode == hook_pb2.HOOK_MODE_INTERCEPT
        hook = next((h for h in self.state.plugin.hooks if h.intercept == intercept and h.matches(request.event.name)), None)
        if hook is None:
            return proceed  # PW-HOOK-6
        try:
            payload = json.loads(request.event.payload_json) if request.event.payload_json else None
        except ValueError:
            payload = request.event.payload_json
        event = HookEvent(
            id=request.event.id,
            name=request.event.name,
            payload=payload,
            source=request.event.source,
            time=request.event.time.ToDatetime(tzinfo=timezone.utc) if request.event.HasField("time") else None,
            pattern=request.pattern,
        )
        decision = await hook.handler(event)
        return proceed if decision is None else decision.response()
