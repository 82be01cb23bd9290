"""Write plugwire plugins in Python.

The SDK does everything docs/protocol.md asks of a plugin (the cookie,
version negotiation, the socket, the bootstrap line, health, handshake,
configuration, shutdown, logs the host understands); you declare tools,
commands, hooks and providers:

    from plugwire import CommandContext, Plugin

    plugin = Plugin("hello", "0.1.0", "Greets people")

    @plugin.tool(read_only=True)
    async def greet(name: str) -> str:
        '''Greets someone by name.'''
        return f"hello, {name}!"

    @plugin.command()
    async def shout(cx: CommandContext) -> int:
        '''Upper-case standard input.'''
        await cx.stdout.write((await cx.stdin.read()).upper())
        return 0

    if __name__ == "__main__":
        plugin.serve()
"""

from ._version import __version__  # noqa: E402

from .command import Arg, CommandContext, Flag, Output, Stdin  # noqa: E402
from .hook import Decision, HookEvent  # noqa: E402
from .host import EmitOutcome, HostClient, HostUnavailable, ToolOutcome  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .plugin import Plugin  # noqa: E402
from .tool import ToolContext, ToolError  # noqa: E402

__all__ = [
    "Arg",
    "CommandContext",
    "ConfigError",
    "Decision",
    "EmitOutcome",
    "Flag",
    "HookEvent",
    "HostClient",
    "HostUnavailable",
    "Output",
    "Plugin",
    "Stdin",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
]
