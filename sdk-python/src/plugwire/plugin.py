"""A plugin: what it declares (tools, commands, hooks, providers) and how
it is configured. Serving it is `serve.py`'s job."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, overload

import grpc

from .command import Arg, Command, CommandHandler, Flag
from .declarations import Provider
from .hook import Hook, HookHandler
from .serve import serve
from .tool import Handler, Tool
from .v1 import tool_pb2

H = TypeVar("H", bound=Handler)
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Plugin:
    """Declares a plugin. Decorate async functions to add what it offers,
    then call `serve()`:

    >>> plugin = Plugin("hello", "0.1.0", "Greets people")
    >>> @plugin.tool(read_only=True)
    ... async def greet(name: str) -> str:
    ...     '''Greets someone by name.'''
    ...     return f"hello, {name}!"
    >>> [t.name for t in plugin.tools.values()], plugin.tools["greet"].arguments.schema["required"]
    (['greet'], ['name'])
    """

    def __init__(self, name: str, version: str, description: str = "") -> None:
        if not _NAME.match(name):
            raise ValueError(
                f"plugin name {name!r}: expected lower-case letters, digits and '-', "
                "starting with a letter, at most 64 (the manifest's name)"
            )
        self.name = name
        self.version = version
        self.description = description
        self.tools: dict[str, Tool] = {}
        self.commands: dict[str, Command] = {}
        self.hooks: list[Hook] = []
        self.providers: list[Provider] = []
        self.features: list[str] = []
        self.configure_hooks: list[Callable[[dict[str, Any]], Awaitable[None]]] = []

    @overload
    def tool(self, fn: H) -> H: ...

    @overload
    def tool(
        self,
        fn: None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        schema: dict[str, Any] | None = None,
        read_only: bool = False,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = False,
    ) -> Callable[[H], H]: ...

    def tool(
        self,
        fn: H | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        schema: dict[str, Any] | None = None,
        read_only: bool = False,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = False,
    ) -> Any:
        """Adds a tool. Its arguments are the handler's parameters (typed
        by their annotations), or one pydantic model, or `schema`, a
        literal JSON Schema whose object the handler receives. Its
        description is the docstring's first paragraph unless given. A
        parameter annotated `ToolContext` receives the call's context."""

        def add(handler: H) -> H:
            tool = Tool.from_function(
                handler,
                name=name,
                description=description,
                schema=schema,
                annotations=tool_pb2.ToolAnnotations(
                    read_only=read_only, destructive=destructive, idempotent=idempotent, open_world=open_world
                ),
            )
            if not _TOOL_NAME.match(tool.name):
                raise ValueError(f"tool name {tool.name!r}: expected 1 to 64 of A-Z a-z 0-9 _ -")
            if tool.name in self.tools:
                raise ValueError(f"tool {tool.name!r} is declared twice")
            self.tools[tool.name] = tool
            return handler

        return add(fn) if fn is not None else add

    def command(
        self,
        name: str | None = None,
        *,
        short: str = "",
        long: str = "",
        usage: str = "",
        parent: str = "",
        aliases: Sequence[str] = (),
        flags: Sequence[Flag] = (),
        args: Sequence[Arg] = (),
    ) -> Callable[[CommandHandler], CommandHandler]:
        """Adds a command whose handler takes a `CommandContext` and
        returns its exit code (`None` is 0). `short` defaults to the
        docstring's first line."""

        def add(handler: CommandHandler) -> CommandHandler:
            command = Command(
                name=name or handler.__name__.replace("_", "-"),
                handler=handler,
                short=short or (handler.__doc__ or "").strip().split("\n")[0],
                long=long,
                usage=usage,
                parent=parent,
                aliases=tuple(aliases),
                flags=tuple(flags),
                args=tuple(args),
            )
            for word in (command.name, *command.aliases):
                if not _NAME.match(word):
                    raise ValueError(f"command name {word!r}: expected lower-case letters, digits and '-'")
            if parent and parent not in self.commands:
                raise ValueError(f"command {command.name!r}: its parent {parent!r} must be declared first")
            if command.full_name in self.commands:
                raise ValueError(f"command {command.full_name!r} is declared twice")
            for flag in command.flags:
                flag.declaration()  # checks the type now, not at the first run
            self.commands[command.full_name] = command
            return handler

        return add

    def hook(
        self, pattern: str, *, intercept: bool = False, priority: int = 0, fail_closed: bool = False
    ) -> Callable[[HookHandler], HookHandler]:
        """Subscribes to events matching `pattern` (`*`, a name, or
        `prefix.*`). An intercepting hook returns a `Decision` (or `None`
        to continue); an observing one's answer is ignored."""

        def add(handler: HookHandler) -> HookHandler:
            self.hooks.append(Hook(pattern, intercept, handler, priority, fail_closed))
            return handler

        return add

    def provider(self, service: str, add_to_server: Callable[[grpc.aio.Server], None], name: str = "default") -> None:
        """Serves an application-defined gRPC service, registered by
        `add_to_server` (for example `lambda s: add_KeyValueServicer_to_server(KV(), s)`)."""
        self.providers.append((service, name, add_to_server))

    def on_configure(self, fn: Callable[[dict[str, Any]], Awaitable[None]]) -> Callable[[dict[str, Any]], Awaitable[None]]:
        """Runs `fn(config)` at `Configure`; raise `ConfigError` to refuse."""
        self.configure_hooks.append(fn)
        return fn

    def feature(self, name: str) -> None:
        """Lists an optional protocol feature (for example `conformance`)."""
        if name not in self.features:
            self.features.append(name)

    def serve(self) -> None:
        """Runs the plugin until the host stops it (docs/protocol.md)."""
        serve(self)
