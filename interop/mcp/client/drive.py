"""Drives an MCP server with the Python MCP SDK's client, as an MCP client
application would, and prints what it saw as one JSON object on stdout.

    drive.py --mode legacy|auto [--url URL --token T | -- COMMAND ARGS...]

`legacy` starts the session with `initialize`; `auto` lets the SDK
negotiate (the 2026-07-28 protocol, through `server/discover`, when the
server offers it). Over stdio the command is the server; with --url, MCP's
streamable HTTP transport is used, with the token as a bearer token.

Scenario `calls` (the default), on the echo plugin's tools (and, when the
server offers them, the time plugin's, an MCP server run as a plugin):
list the tools, call one, call one with progress, a tool error, an unknown
tool, and a call cancelled by the client, whose effect the plugin reports.

Scenario `changes`: waits to be told the tool list changed (a
notification in an `initialize` session, `subscriptions/listen` from
2026-07-28), after printing `listening` on stderr so that whoever drives
it knows when to change the plugins.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
import httpx2 as httpx  # the SDK's own HTTP client
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def result_json(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


async def scenario(client: Client, report: dict[str, Any]) -> None:
    tools = await client.list_tools()
    report["protocol"] = str(getattr(client, "protocol_version", "") or "")
    report["tools"] = {
        tool.name: {
            "title": tool.title,
            "input": tool.input_schema,
            "output": tool.output_schema,
            "annotations": tool.annotations.model_dump(by_alias=True, exclude_none=True)
            if tool.annotations
            else None,
        }
        for tool in tools.tools
    }
    report["echo"] = result_json(await client.call_tool("echo__echo", {"text": "hi"}))

    progress: list[list[float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append([done, total])

    slow = await client.call_tool(
        "echo__slow", {"steps": 3, "delay_ms": 20}, progress_callback=on_progress
    )
    report["slow"] = result_json(slow)
    report["progress"] = progress
    report["fail"] = result_json(await client.call_tool("echo__fail", {"message": "on purpose"}))
    try:
        await client.call_tool("echo__nope", {})
        report["unknown"] = {"error": None}
    except MCPError as e:
        report["unknown"] = {"code": e.error.code, "message": e.error.message}

    # A call the client gives up on: the SDK cancels it on the wire.
    with anyio.move_on_after(0.5):
        await client.call_tool("echo__sleep", {"ms": 60000})
    stats: dict[str, Any] = {}
    with anyio.fail_after(10):
        while True:
            stats = result_json(await client.call_tool("echo__stats", {}))
            if stats.get("structuredContent", {}).get("cancelled") == 1:
                break
            await anyio.sleep(0.05)
    report["after_cancel"] = stats.get("structuredContent")

    if "time__get_current_time" in report["tools"]:
        report["time"] = result_json(
            await client.call_tool("time__get_current_time", {"timezone": "Asia/Tokyo"})
        )


async def changes(client: Client, changed: anyio.Event, report: dict[str, Any]) -> None:
    await client.list_tools()
    report["protocol"] = str(getattr(client, "protocol_version", "") or "")
    with anyio.fail_after(30):
        if report["protocol"] >= "2026-07-28":
            async with client.listen(tools_list_changed=True) as subscription:
                print("listening", file=sys.stderr, flush=True)
                async for event in subscription:
                    report["event"] = type(event).__name__
                    break
        else:
            print("listening", file=sys.stderr, flush=True)
            await changed.wait()
            report["event"] = "notifications/tools/list_changed"
    report["tools_after"] = sorted(t.name for t in (await client.list_tools()).tools)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--scenario", default="calls", choices=["calls", "changes"])
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    server: Any
    if args.url:
        http = httpx.AsyncClient(headers={"Authorization": f"Bearer {args.token}"}, timeout=30)
        server = streamable_http_client(args.url, http_client=http)
    else:
        server = StdioServerParameters(command=command[0], args=command[1:])
    report: dict[str, Any] = {}
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    with anyio.fail_after(60):
        async with Client(server, mode=args.mode, message_handler=on_message) as client:
            if args.scenario == "calls":
                await scenario(client, report)
            else:
                await changes(client, changed, report)
    json.dump(report, sys.stdout)


anyio.run(main)
