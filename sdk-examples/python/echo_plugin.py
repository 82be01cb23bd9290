"""The echo plugin in Python: the echo tool, the command cat, and the
conformance fixture profile of docs/conformance.md (the tools sleep and
stats, the command exit, the hook conformance.intercept)."""

import asyncio
import json
import os
import sys

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

from plugwire.v1 import (  # noqa: E402  (generated code lives in gen/)
    command_pb2,
    command_pb2_grpc,
    hook_pb2,
    hook_pb2_grpc,
    plugin_pb2,
    plugin_pb2_grpc,
    tool_pb2,
    tool_pb2_grpc,
)

import plugwire_serve  # noqa: E402

NAME = "echo-python"
VERSION = "0.1.0"
CHUNK = 64 * 1024

TOOLS = {
    "echo": {
        "description": "Returns the `text` argument unchanged",
        "schema": {
            "type": "object",
            "properties": {"text": {"type": "string", "description": "The text to return"}},
            "required": ["text"],
            "additionalProperties": False,
        },
    },
    "sleep": {
        "description": "Sleeps `ms` milliseconds; stops when cancelled (conformance fixture)",
        "schema": {
            "type": "object",
            "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": 60000}},
            "required": ["ms"],
            "additionalProperties": False,
        },
    },
    "stats": {
        "description": "Sleeps in progress and sleeps cancelled (conformance fixture)",
        "schema": {"type": "object", "properties": {}, "additionalProperties": False},
    },
}

COMMANDS = [
    command_pb2.Command(name="cat", usage="cat", short="Copy standard input to standard output"),
    command_pb2.Command(
        name="exit",
        usage="exit [--code N]",
        short="Print to both streams and exit with --code (conformance fixture)",
        flags=[
            command_pb2.Flag(
                name="code",
                type=command_pb2.FLAG_TYPE_INT,
                description="The exit code",
                default_json="0",
            )
        ],
    ),
]

HOOK_PATTERN = "conformance.intercept"


def invalid(pointer: str, problem: str) -> tuple:
    return (grpc.StatusCode.INVALID_ARGUMENT, f"arguments {pointer}: {problem}")


def check_arguments(schema: dict, args) -> tuple | None:
    """The subset of JSON Schema these tools use, with PW-TOOL-5 messages."""
    if not isinstance(args, dict):
        return invalid("", f"expected a JSON object, saw {json.dumps(args)}")
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in args:
            return invalid(f"/{name}", f'"{name}" is a required property')
    for name, value in args.items():
        rule = properties.get(name)
        pointer = f"/{name}"
        if rule is None:
            return invalid(pointer, f'unknown property "{name}"')
        kind = rule["type"]
        if kind == "string" and not isinstance(value, str):
            return invalid(pointer, f"expected a string, saw {json.dumps(value)}")
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return invalid(pointer, f"expected an integer, saw {json.dumps(value)}")
            if not rule.get("minimum", value) <= value <= rule.get("maximum", value):
                return invalid(
                    pointer, f"expected {rule['minimum']} to {rule['maximum']}, saw {value}"
                )
    return None


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


class Plugin(plugin_pb2_grpc.PluginServiceServicer):
    def __init__(self, lifecycle, version):
        self.lifecycle = lifecycle
        self.version = version
        self.config = None

    async def Handshake(self, request, context):
        if request.protocol_version != self.version:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"protocol version {request.protocol_version} differs from the "
                f"version printed ({self.version})",
            )
        return plugin_pb2.HandshakeResponse(
            plugin=plugin_pb2.PluginInfo(
                name=NAME, version=VERSION, description="Echo tools, in Python"
            ),
            sdk=plugin_pb2.SdkInfo(name="handwritten", version=f"python-grpcio-{grpc.__version__}"),
            features=["conformance"],
            capabilities=plugin_pb2.Capabilities(
                tools=list(TOOLS),
                commands=[c.name for c in COMMANDS],
                hooks=[
                    hook_pb2.HookSubscription(
                        pattern=HOOK_PATTERN,
                        mode=hook_pb2.HOOK_MODE_INTERCEPT,
                        failure_policy=hook_pb2.FAILURE_POLICY_OPEN,
                    )
                ],
            ),
        )

    async def Configure(self, request, context):
        text = request.config_json.strip() or "{}"
        try:
            config = json.loads(text)
        except ValueError as e:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"config : expected a JSON object, the text is not JSON: {e}",
            )
        if not isinstance(config, dict):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"config : expected a JSON object, saw {text}"
            )
        if self.config is not None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "the plugin is already configured; Configure is called once",
            )
        self.config = config
        return plugin_pb2.ConfigureResponse()

    async def Shutdown(self, request, context):
        grace = request.grace.seconds + request.grace.nanos / 1e9 if request.HasField("grace") else 5.0
        self.lifecycle.stop(grace)
        return plugin_pb2.ShutdownResponse()


class Tools(tool_pb2_grpc.ToolServiceServicer):
    async def ListTools(self, request, context):
        return tool_pb2.ListToolsResponse(
            tools=[
                tool_pb2.Tool(
                    name=name,
                    description=tool["description"],
                    input_schema_json=json.dumps(tool["schema"]),
                    annotations=tool_pb2.ToolAnnotations(read_only=True),
                )
                for name, tool in TOOLS.items()
            ]
        )

    async def CallTool(self, request, context):
        tool = TOOLS.get(request.name)
        if tool is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no tool {request.name!r}; this plugin has {', '.join(TOOLS)}",
            )
        try:
            args = json.loads(request.arguments_json or "{}")
        except ValueError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"arguments : not JSON: {e}")
        problem = check_arguments(tool["schema"], args)
        if problem:
            await context.abort(*problem)
        if request.name == "echo":
            content = args["text"]
        elif request.name == "sleep":
            await Sleeps.sleep(args["ms"])
            content = {"slept_ms": args["ms"]}
        else:
            content = {"sleeping": Sleeps.sleeping, "cancelled": Sleeps.cancelled}
        return tool_pb2.CallToolResponse(
            result=tool_pb2.ToolResult(content_json=json.dumps(content))
        )


class Commands(command_pb2_grpc.CommandServiceServicer):
    async def ListCommands(self, request, context):
        return command_pb2.ListCommandsResponse(commands=COMMANDS)

    async def RunCommand(self, request_iterator, context):
        requests = request_iterator.__aiter__()
        try:
            first = await requests.__anext__()
        except StopAsyncIteration:
            return
        if first.WhichOneof("message") != "start":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the first RunCommand message must be `start`"
            )
        start = first.start
        if start.command == "cat":
            # Copy each chunk as it arrives: output is streamed (PW-CMD-6)
            # and ends at stdin_close or a half-close (PW-CMD-5).
            async for message in requests:
                kind = message.WhichOneof("message")
                if kind == "stdin":
                    for i in range(0, len(message.stdin), CHUNK):
                        yield command_pb2.RunCommandResponse(stdout=message.stdin[i : i + CHUNK])
                elif kind == "stdin_close":
                    break
            yield command_pb2.RunCommandResponse(exit=command_pb2.CommandExit(code=0))
        elif start.command == "exit":
            flags = json.loads(start.flags_json or "{}")
            yield command_pb2.RunCommandResponse(stdout=b"out\n")
            yield command_pb2.RunCommandResponse(stderr=b"err\n")
            yield command_pb2.RunCommandResponse(
                exit=command_pb2.CommandExit(code=int(flags.get("code", 0)))
            )
        else:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no command {start.command!r}")


class Hooks(hook_pb2_grpc.HookServiceServicer):
    async def HandleEvent(self, request, context):
        continue_ = hook_pb2.HandleEventResponse(decision=hook_pb2.DECISION_CONTINUE)
        if request.event.name != HOOK_PATTERN:
            return continue_  # PW-HOOK-6
        try:
            payload = json.loads(request.event.payload_json or "{}")
        except ValueError:
            return continue_
        if not isinstance(payload, dict):
            return continue_
        if isinstance(payload.get("sleep_ms"), int):
            await Sleeps.sleep(min(payload["sleep_ms"], 60000))
        decision = payload.get("decision")
        if decision == "modify":
            return hook_pb2.HandleEventResponse(
                decision=hook_pb2.DECISION_MODIFY,
                payload_json=json.dumps({**payload, "modified": True}),
            )
        if decision == "deny":
            return hook_pb2.HandleEventResponse(
                decision=hook_pb2.DECISION_DENY,
                reason=payload.get("reason") or "denied by the conformance fixture",
            )
        return continue_


def add_services(server, lifecycle, version):
    plugin_pb2_grpc.add_PluginServiceServicer_to_server(Plugin(lifecycle, version), server)
    tool_pb2_grpc.add_ToolServiceServicer_to_server(Tools(), server)
    command_pb2_grpc.add_CommandServiceServicer_to_server(Commands(), server)
    hook_pb2_grpc.add_HookServiceServicer_to_server(Hooks(), server)


if __name__ == "__main__":
    asyncio.run(plugwire_serve.serve(add_services))
