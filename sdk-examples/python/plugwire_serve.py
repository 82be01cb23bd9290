"""The protocol's process side (docs/protocol.md sections 2, 3 and 9) for
grpc.aio: check the cookie, choose the version, bind the socket, print the
bootstrap line, serve health, and shut down on Shutdown or SIGTERM with the
socket removed. A plugin supplies its services; see echo_plugin.py."""

import asyncio
import os
import signal
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

COOKIE_KEY = "PLUGWIRE_PLUGIN"
COOKIE_VALUE = "5d3c1f0e-plugwire"
SUPPORTED_VERSIONS = (1,)
MAX_MESSAGE = 16 * 1024 * 1024
SIGTERM_GRACE_S = 2.0


def fail(message: str) -> None:
    """PW-BOOT-1/3: explain on stderr, print nothing on stdout, exit 1."""
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def choose_version() -> int:
    """PW-BOOT-3: the highest offered version this plugin speaks."""
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        fail(
            "this is a plugwire plugin; it is started by a plugwire host, "
            "not by hand (the PLUGWIRE_PLUGIN cookie is missing)"
        )
    raw = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    try:
        offered = {int(v) for v in raw.split(",") if v.strip()}
    except ValueError:
        offered = set()
    common = offered.intersection(SUPPORTED_VERSIONS)
    if not common:
        fail(
            f"no common protocol version: the host offered {raw!r}, "
            f"this plugin speaks {','.join(map(str, SUPPORTED_VERSIONS))}"
        )
    return max(common)


class Lifecycle:
    """Stops the server once, by Shutdown or by signal."""

    def __init__(self, server: grpc.aio.Server, health_servicer):
        self.server = server
        self.health = health_servicer
        self.stopped = asyncio.Event()
        self._stopping = False

    def stop(self, grace: float) -> None:
        if self._stopping:
            return
        self._stopping = True

        async def run():
            # PW-HEALTH-2, PW-SHUT-1: refuse new work, drain, then end.
            await self.health.set("plugin", health_pb2.HealthCheckResponse.NOT_SERVING)
            await self.server.stop(grace)
            self.stopped.set()

        asyncio.get_running_loop().create_task(run())


async def serve(add_services) -> None:
    """Runs a plugin: `add_services(server, lifecycle, version)` registers
    the plugin's services on the server before it starts."""
    version = choose_version()
    socket_dir = os.environ.get("PLUGIN_UNIX_SOCKET_DIR", "")
    if not os.path.isabs(socket_dir) or not os.path.isdir(socket_dir):
        fail("PLUGIN_UNIX_SOCKET_DIR must name an existing absolute directory")
    socket_path = os.path.join(socket_dir, "plugin.sock")

    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ]
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    lifecycle = Lifecycle(server, health_servicer)
    add_services(server, lifecycle, version)
    server.add_insecure_port(f"unix:{socket_path}")
    await server.start()
    await health_servicer.set("plugin", health_pb2.HealthCheckResponse.SERVING)

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lifecycle.stop, SIGTERM_GRACE_S)

    # PW-BOOT-2: one line, flushed, once serving.
    sys.stdout.write(f"1|{version}|unix|{socket_path}|grpc|\n")
    sys.stdout.flush()

    await lifecycle.stopped.wait()
    # PW-SHUT-3: the socket goes before the process does.
    try:
        os.unlink(socket_path)
    except FileNotFoundError:
        pass
