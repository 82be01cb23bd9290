"""Serving a plugin: bind the socket, register the services and health,
print the bootstrap line, and stop once on `Shutdown` or a signal with the
socket removed (docs/protocol.md sections 2, 3 and 9)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import _bootstrap, _goplugin, log
from ._services import DEFAULT_GRACE_S, CommandService, HookService, PluginService, State, ToolService
from .v1 import command_pb2_grpc, hook_pb2_grpc, plugin_pb2_grpc, tool_pb2_grpc

if TYPE_CHECKING:
    from .declarations import Declarations

#: PW-SHUT-2: the grace after SIGTERM.
SIGTERM_GRACE_S = 2.0


class Running:
    """A started server: `stop(grace)` once, `wait()` for the end."""

    def __init__(
        self,
        plugin: Declarations,
        socket_path: str,
        version: int,
        host_socket: str | None,
        mtls: _goplugin.AutoMTLS | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", _bootstrap.MAX_MESSAGE),
                ("grpc.max_send_message_length", _bootstrap.MAX_MESSAGE),
            ]
        )
        self.health = health.aio.HealthServicer()
        self.state = State(plugin, version, host_socket, self.stop)
        self._stopped = asyncio.Event()
        self._stopping = asyncio.Event()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        plugin_pb2_grpc.add_PluginServiceServicer_to_server(PluginService(self.state), self.server)
        if plugin.tools:
            tool_pb2_grpc.add_ToolServiceServicer_to_server(ToolService(self.state), self.server)
        if plugin.commands:
            command_pb2_grpc.add_CommandServiceServicer_to_server(CommandService(self.state), self.server)
        if plugin.hooks:
            hook_pb2_grpc.add_HookServiceServicer_to_server(HookService(self.state), self.server)
        for _, _, add in plugin.providers:
            add(self.server)
        _goplugin.add_to_server(self.server, lambda: self.stop(DEFAULT_GRACE_S), self._stopping)
        # Under AutoMTLS the socket is the TLS front's, and gRPC listens
        # behind it.
        self.tls = _goplugin.TlsFront(mtls) if mtls else None
        self.server.add_insecure_port(f"unix:{self.tls.inner_path if self.tls else socket_path}")

    async def start(self) -> None:
        await self.server.start()
        if self.tls:
            await self.tls.start(self.socket_path)
        await self.health.set("plugin", health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()

        async def run() -> None:
            # PW-HEALTH-2, PW-SHUT-1: refuse new work, drain, then end.
            await self.health.set("plugin", health_pb2.HealthCheckResponse.NOT_SERVING)
            await self.server.stop(grace)
            if self.tls:
                await self.tls.close()
            await self.state.host.close()
            # PW-SHUT-3: the socket goes before the process does.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
            self._stopped.set()

        asyncio.get_running_loop().create_task(run())

    async def wait(self) -> None:
        await self._stopped.wait()


async def serve_async(plugin: Declarations) -> None:
    """`serve` inside a running event loop."""
    boot = _bootstrap.read(os.environ)
    mtls = _goplugin.auto_mtls(os.environ)
    if mtls is not None:
        boot = dataclasses.replace(boot, server_cert=mtls.server_cert)
    running = Running(plugin, boot.socket_path, boot.version, boot.host_socket, mtls)
    await running.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, running.stop, SIGTERM_GRACE_S)
    # PW-BOOT-2: one line, flushed, once serving.
    sys.stdout.write(boot.line())
    sys.stdout.flush()
    await running.wait()


def serve(plugin: Declarations) -> NoReturn:
    """Runs `plugin` until the host stops it, then exits 0 (after the
    `atexit` handlers); exits 1 with the reason on stderr when it was not
    started by a host."""
    log.install()
    try:
        asyncio.run(serve_async(plugin))
    except _bootstrap.BootstrapError as e:
        print(f"{os.path.basename(sys.argv[0])}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    # The socket is gone and every call has been answered. grpcio's own
    # teardown at interpreter exit waits about 100 ms on its threads, which
    # a host stopping many plugins (go-plugin's Kill among them) would wait
    # for too: run the exit handlers, flush, and leave.
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
