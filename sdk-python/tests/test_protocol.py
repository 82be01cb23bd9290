"""Commands, hooks, configuration and the handshake."""

import asyncio
import json

import grpc
import pytest

from plugwire import Arg, CommandContext, ConfigError, Decision, Flag, HookEvent, Plugin
from plugwire.testing import TestHost
from plugwire.v1 import hook_pb2, plugin_pb2, plugin_pb2_grpc, tool_pb2, tool_pb2_grpc

plugin = Plugin("protocol-test", "1.2.3", "Tests the protocol")


@plugin.command(flags=[Flag("times", int, default=1, short="n")], args=[Arg("words", variadic=True)])
async def shout(cx: CommandContext) -> int:
    """Upper-cases stdin."""
    text = (await cx.stdin.read()).decode()
    await cx.stdout.write(text.upper() * cx.flags["times"])
    await cx.stderr.print("args:", *cx.args)
    return 3


@plugin.hook("session.*", intercept=True, priority=5, fail_closed=True)
async def guard(event: HookEvent) -> Decision | None:
    if event.payload.get("user") == "mallory":
        return Decision.deny("mallory may not start sessions")
    if event.payload.get("user") == "ada":
        return Decision.modify({**event.payload, "admin": True})
    return None


@plugin.tool
async def config_value(key: str) -> object:
    """Reads the configuration."""
    return None


@plugin.on_configure
async def check(config: dict) -> None:
    if not isinstance(config.get("retries", 0), int):
        raise ConfigError("/retries", f"expected an integer, saw {json.dumps(config['retries'])}")


def run(coro):
    return asyncio.run(coro)


def test_handshake_declares_everything():
    async def go():
        async with TestHost(plugin) as host:
            h = host.handshake
            assert (h.plugin.name, h.plugin.version, h.sdk.name) == ("protocol-test", "1.2.3", "plugwire-python")
            assert list(h.capabilities.commands) == ["shout"]
            assert list(h.capabilities.tools) == ["config_value"]
            sub = h.capabilities.hooks[0]
            assert (sub.pattern, sub.mode, sub.priority, sub.failure_policy) == (
                "session.*",
                hook_pb2.HOOK_MODE_INTERCEPT,
                5,
                hook_pb2.FAILURE_POLICY_CLOSED,
            )

    run(go())


def test_commands_get_flags_args_and_stdin():
    async def go():
        async with TestHost(plugin) as host:
            r = await host.run_command("shout", {"times": 2}, ["a", "b"], stdin=b"hi ")
            assert (r.stdout, r.stderr, r.code) == (b"HI HI ", b"args: a b\n", 3)

    run(go())


def test_hooks_continue_modify_and_deny():
    async def go():
        async with TestHost(plugin) as host:
            r = await host.emit("session.start", {"user": "mallory"})
            assert (r.decision, r.reason) == (hook_pb2.DECISION_DENY, "mallory may not start sessions")
            r = await host.emit("session.start", {"user": "ada"})
            assert r.decision == hook_pb2.DECISION_MODIFY and json.loads(r.payload_json)["admin"] is True
            assert (await host.emit("session.start", {"user": "bob"})).decision == hook_pb2.DECISION_CONTINUE
            # PW-HOOK-6: events it does not subscribe to continue.
            assert (await host.emit("other", {"user": "mallory"})).decision == hook_pb2.DECISION_CONTINUE

    run(go())


def test_configure_refusals_name_the_field():
    async def go():
        with pytest.raises(grpc.aio.AioRpcError) as e:
            async with TestHost(plugin, config={"retries": "three"}):
                pass
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert e.value.details() == 'config /retries: expected an integer, saw "three"'

    run(go())


def test_calls_before_configure_and_a_second_configure_fail_precondition():
    async def go():
        host = await TestHost(plugin).start_unconfigured()
        try:
            stub = plugin_pb2_grpc.PluginServiceStub(host.channel)
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await tool_pb2_grpc.ToolServiceStub(host.channel).CallTool(tool_pb2.CallToolRequest(name="config_value"))
            assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            await stub.Configure(plugin_pb2.ConfigureRequest(config_json="{}"))
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.Configure(plugin_pb2.ConfigureRequest(config_json="{}"))
            assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        finally:
            await host.close()

    run(go())


def test_declarations_are_checked_when_made():
    p = Plugin("decl", "0.1.0")
    with pytest.raises(ValueError, match="parent 'remote' must be declared first"):
        p.command("add", parent="remote")(shout)
    with pytest.raises(TypeError, match="bool, str, int, float or list"):
        p.command("x", flags=[Flag("when", dict)])(shout)
    with pytest.raises(ValueError, match="lower-case"):
        Plugin("Bad_Name", "0.1.0")


def test_the_host_client_knows_the_application_services_offered():
    from plugwire.host import HostClient, HostUnavailable

    offered = HostClient("/nonexistent/host.sock", enabled=True, services=["acme.session.v1.Sessions"])
    assert offered.services == ("acme.session.v1.Sessions",)

    async def channel_of(client: HostClient) -> object:
        # A call's client keeps the services, on the one host channel.
        call = client._for_call("chain-1")
        assert call.services == client.services
        assert call.channel is client.channel
        return client.channel

    assert isinstance(run(channel_of(offered)), grpc.aio.Channel)
    with pytest.raises(HostUnavailable):
        run(channel_of(HostClient(None, enabled=True)))
