"""The echo plugin in Python, on the plugwire SDK (../../sdk-python): the
echo tool, the command cat, and the conformance fixture profile of
docs/conformance.md (the tools sleep and stats, the command exit, the hook
conformance.intercept)."""

import asyncio
from typing import Annotated, Literal

from pydantic import Field

from plugwire import CommandContext, Decision, Flag, HookEvent, Plugin

plugin = Plugin("echo-python", "0.1.0", "Echo tools and the conformance fixture profile, in Python")
plugin.feature("conformance")


class Sleeps:
    """Counts sleeps in progress and sleeps stopped by cancellation."""

    sleeping = 0
    cancelled = 0

    @classmethod
    async def sleep(cls, ms: int) -> None:
        cls.sleeping += 1
        try:
            await asyncio.sleep(ms / 1000)
        except asyncio.CancelledError:
            cls.cancelled += 1
            raise
        finally:
            cls.sleeping -= 1


@plugin.tool(read_only=True, idempotent=True)
async def echo(text: Annotated[str, Field(description="The text to return")]) -> str:
    """Returns the `text` argument unchanged"""
    return text


@plugin.tool(read_only=True)
async def sleep(ms: Annotated[int, Field(ge=0, le=60000)]) -> dict[str, int]:
    """Sleeps `ms` milliseconds; stops when cancelled (conformance fixture)"""
    await Sleeps.sleep(ms)
    return {"slept_ms": ms}


@plugin.tool(read_only=True)
async def stats() -> dict[str, int]:
    """Sleeps in progress and sleeps cancelled (conformance fixture)"""
    return {"sleeping": Sleeps.sleeping, "cancelled": Sleeps.cancelled}


@plugin.command(usage="cat")
async def cat(cx: CommandContext) -> int:
    """Copy standard input to standard output"""
    async for chunk in cx.stdin:  # streamed as it arrives (PW-CMD-6)
        await cx.stdout.write(chunk)
    return 0


@plugin.command(usage="exit [--code N]", flags=[Flag("code", int, default=0, description="The exit code")])
async def exit(cx: CommandContext) -> int:
    """Print to both streams and exit with --code (conformance fixture)"""
    await cx.stdout.write("out\n")
    await cx.stderr.write("err\n")
    return int(cx.flags["code"])


Verdict = Literal["continue", "modify", "deny"]


@plugin.hook("conformance.intercept", intercept=True)
async def intercept(event: HookEvent) -> Decision | None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    if isinstance(payload.get("sleep_ms"), int):
        await Sleeps.sleep(min(payload["sleep_ms"], 60000))
    verdict: Verdict = payload.get("decision", "continue")
    if verdict == "modify":
        return Decision.modify({**payload, "modified": True})
    if verdict == "deny":
        return Decision.deny(payload.get("reason") or "denied by the conformance fixture")
    return None


if __name__ == "__main__":
    plugin.serve()
