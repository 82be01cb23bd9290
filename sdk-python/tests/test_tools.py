"""Tools through a real socket: schemas from types, validation with
pointers, results, failures, progress, deadlines."""

import asyncio
import json

import grpc
import pytest
from pydantic import BaseModel, Field

from plugwire import Plugin, ToolContext, ToolError
from plugwire.testing import TestHost

plugin = Plugin("tools-test", "0.1.0")


@plugin.tool(read_only=True)
async def greet(name: str, times: int = 1) -> str:
    """Greets someone.

    More words that are not the description."""
    return " ".join([f"hello, {name}!"] * times)


class Point(BaseModel):
    x: int = Field(description="Across")
    y: int


class Sum(BaseModel):
    total: int


@plugin.tool
async def add(point: Point) -> Sum:
    """Adds the coordinates."""
    return Sum(total=point.x + point.y)


@plugin.tool(schema={"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]})
async def literal(args: dict) -> int:
    """Takes a literal schema."""
    return args["n"] * 2


@plugin.tool
async def refuse(path: str) -> str:
    """Fails as tools do."""
    raise ToolError(f"no such file: {path}")


@plugin.tool
async def crash() -> str:
    """Has a bug."""
    raise KeyError("oops")


@plugin.tool
async def count(steps: int, cx: ToolContext) -> dict:
    """Reports progress."""
    for i in range(1, steps + 1):
        await cx.progress(i, steps, f"step {i}")
        await cx.progress(i)  # not increasing: dropped
    return {"done": steps, "has_deadline": cx.time_remaining() is not None}


@plugin.tool
async def wait(ms: int) -> str:
    """Sleeps."""
    await asyncio.sleep(ms / 1000)
    return "woke"


def run(coro):
    return asyncio.run(coro)


def test_schemas_come_from_types():
    tools = {t.name: t for t in plugin.tools.values()}
    schema = tools["greet"].arguments.schema
    assert schema["required"] == ["name"]
    assert schema["properties"]["times"] == {"type": "integer", "default": 1}
    assert schema["additionalProperties"] is False
    assert tools["greet"].description == "Greets someone."
    assert tools["add"].arguments.schema["properties"]["x"]["description"] == "Across"
    assert tools["add"].output_schema["properties"]["total"] == {"type": "integer"}
    assert tools["greet"].output_schema is None


def test_calls_return_json_results():
    async def go():
        async with TestHost(plugin) as host:
            declared = {t.name: t for t in await host.list_tools()}
            assert declared["greet"].annotations.read_only
            assert json.loads(declared["add"].output_schema_json)["required"] == ["total"]
            assert (await host.call_tool("greet", {"name": "Ada", "times": 2})).content == "hello, Ada! hello, Ada!"
            assert (await host.call_tool("add", {"x": 2, "y": 3})).content == {"total": 5}
            assert (await host.call_tool("literal", {"n": 4})).content == 8

    run(go())


@pytest.mark.parametrize(
    "tool, arguments, message",
    [
        ("greet", {}, 'arguments /name: "name" is a required property'),
        ("greet", {"name": 3}, "arguments /name: input should be a valid string, saw 3"),
        ("greet", {"name": "a", "loud": True}, 'arguments /loud: unknown property "loud"'),
        ("greet", "[1]", "arguments: expected a JSON object, saw [1]"),
        ("greet", "{", "arguments: expected a JSON object, the text is not JSON"),
        ("greet", {"name": "a", "times": "2"}, "arguments /times: input should be a valid integer"),
        ("add", {"x": 1}, 'arguments /y: "y" is a required property'),
        ("literal", {"n": -1}, "arguments /n: -1 is less than the minimum of 0"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(tool, arguments, message):
    async def go():
        async with TestHost(plugin) as host:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await host.call_tool(tool, arguments)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert e.value.details().startswith(message), e.value.details()

    run(go())


def test_arguments_the_host_marked_validated_skip_only_the_schema_check():
    from plugwire.v1 import tool_pb2, tool_pb2_grpc

    async def go():
        async with TestHost(plugin) as host:
            stub = tool_pb2_grpc.ToolServiceStub(host.channel)

            async def call(mark: str, name: str, text: str):
                request = tool_pb2.CallToolRequest(name=name, arguments_json=text)
                metadata = (("plugwire-arguments-validated", mark),)
                return await stub.CallTool(request, metadata=metadata, timeout=10)

            # Against the schema (minimum 0): only a skipped check lets it through.
            assert (await call("1", "literal", '{"n": -1}')).result.content_json == "-2"
            refused = [
                ("1", "greet", '{"name": 3}', "arguments /name: input should be a valid string"),
                ("1", "literal", "[1]", "arguments: expected a JSON object, saw [1]"),
                ("yes", "literal", '{"n": -1}', "arguments /n: -1 is less than the minimum of 0"),
            ]
            for mark, name, text, message in refused:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await call(mark, name, text)
                assert e.value.details().startswith(message), (mark, name, e.value.details())

    run(go())


def test_unknown_tools_are_not_found():
    async def go():
        async with TestHost(plugin) as host:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await host.call_tool("nope", {})
            assert e.value.code() == grpc.StatusCode.NOT_FOUND
            assert "greet" in e.value.details()

    run(go())


def test_failures_are_results_not_protocol_errors():
    async def go():
        async with TestHost(plugin) as host:
            assert await host.call_tool("refuse", {"path": "a.txt"}) == (await host.call_tool("refuse", {"path": "a.txt"}))
            outcome = await host.call_tool("refuse", {"path": "a.txt"})
            assert outcome.is_error and outcome.content == "no such file: a.txt"
            outcome = await host.call_tool("crash", {})
            assert outcome.is_error and "KeyError" in outcome.content

    run(go())


def test_progress_streams_and_only_increases():
    async def go():
        async with TestHost(plugin) as host:
            progress, outcome = await host.call_tool_stream("count", {"steps": 3})
            assert [p.progress for p in progress] == [1, 2, 3]
            assert progress[0].total == 3 and progress[0].message == "step 1"
            assert outcome.content == {"done": 3, "has_deadline": True}
            assert "tool.progress" in host.handshake.features

    run(go())


def test_deadlines_cancel_the_work():
    async def go():
        async with TestHost(plugin) as host:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await host.call_tool("wait", {"ms": 5000}, timeout=0.2)
            assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    run(go())


def test_a_handler_must_be_async_and_typed():
    p = Plugin("bad", "0.1.0")
    with pytest.raises(TypeError, match="async def"):
        p.tool(lambda: 1)
    with pytest.raises(TypeError, match="no type annotation"):

        @p.tool
        async def untyped(x):  # type: ignore[no-untyped-def]
            return x


def test_a_plugin_without_literal_schemas_does_not_import_jsonschema() -> None:
    # jsonschema costs ~30 ms of every start; only a literal schema needs it.
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from plugwire import Plugin\n"
        "p = Plugin('typed', '0.1.0')\n"
        "@p.tool()\n"
        "async def add(a: int, b: int) -> int:\n"
        "    return a + b\n"
        "print('jsonschema' in sys.modules)\n"
        "@p.tool(schema={'type': 'object'})\n"
        "async def raw(args: dict) -> int:\n"
        "    return 0\n"
        "print('jsonschema' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "True"]
