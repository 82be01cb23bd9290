"""The benchmark's floor for a Python plugin's memory: the least a grpcio
plugin server can be. A grpc.aio server with only the health service, bound
on a Unix socket in PLUGIN_UNIX_SOCKET_DIR, announcing itself with a
bootstrap line; no SDK, no handshake, no host. The bench runs it with the
Python example's interpreter, so both load the same grpcio."""

import asyncio
import os

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def main() -> None:
    socket = os.path.join(os.environ["PLUGIN_UNIX_SOCKET_DIR"], "plugin.sock")
    server = grpc.aio.server()
    checker = health.aio.HealthServicer()
    await checker.set("plugin", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    server.add_insecure_port(f"unix:{socket}")
    await server.start()
    print(f"1|1|unix|{socket}|grpc|", flush=True)
    await server.wait_for_termination()


asyncio.run(main())
