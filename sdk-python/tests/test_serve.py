"""The whole bootstrap, as a host sees it, in a child process."""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

PROGRAM = textwrap.dedent(
    """
    import logging
    from plugwire import Plugin
    plugin = Plugin("served", "0.1.0")

    @plugin.tool
    async def ping() -> str:
        '''Answers.'''
        logging.getLogger("served").info("pinged", extra={"who": "test"})
        return "pong"

    plugin.serve()
    """
)


def start(env_extra):
    env = {"PATH": os.environ["PATH"], **env_extra}
    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_without_the_cookie_it_explains_and_exits_1():
    p = start({})
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1 and out == ""
    assert "plugwire plugin" in err and "PLUGWIRE_PLUGIN" in err


def test_no_common_version_is_refused():
    p = start({"PLUGWIRE_PLUGIN": "5d3c1f0e-plugwire", "PLUGIN_PROTOCOL_VERSIONS": "7"})
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1 and "no common protocol version" in err


def test_it_prints_the_line_serves_and_stops_on_sigterm_removing_the_socket():
    with tempfile.TemporaryDirectory() as d:
        p = start({"PLUGWIRE_PLUGIN": "5d3c1f0e-plugwire", "PLUGIN_PROTOCOL_VERSIONS": "1", "PLUGIN_UNIX_SOCKET_DIR": d})
        line = p.stdout.readline()
        socket = os.path.join(d, "plugin.sock")
        assert line == f"1|1|unix|{socket}|grpc|\n"
        with grpc.insecure_channel(f"unix://{socket}") as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="plugin"), timeout=5)
            assert status.status == health_pb2.HealthCheckResponse.SERVING
        started = time.monotonic()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert not os.path.exists(socket)


def test_without_a_socket_directory_it_uses_the_temporary_one():
    p = start({"PLUGWIRE_PLUGIN": "5d3c1f0e-plugwire", "PLUGIN_PROTOCOL_VERSIONS": "1"})
    line = p.stdout.readline()
    path = line.split("|")[3]
    assert path.startswith(tempfile.gettempdir()) and path.endswith(".sock"), line
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0
    assert not os.path.exists(path)
