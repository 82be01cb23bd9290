"""The {{name}} plugin: one tool and one command."""

from plugwire import CommandContext, Plugin

plugin = Plugin("{{name}}", "0.1.0", "Greets people and shouts")


@plugin.tool(read_only=True)
async def greet(name: str) -> str:
    """Greets someone by name"""
    return f"hello, {name}!"


@plugin.command()
async def shout(cx: CommandContext) -> int:
    """Upper-case standard input"""
    await cx.stdout.write((await cx.stdin.read()).upper())
    return 0


if __name__ == "__main__":
    plugin.serve()
