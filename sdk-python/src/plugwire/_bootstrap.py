"""The process side of the bootstrap (docs/protocol.md section 2): the
cookie, the version, the socket path and the bootstrap line. No I/O beyond
reading the environment, so it can be tested alone."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

COOKIE_KEY = "PLUGWIRE_PLUGIN"
COOKIE_VALUE = "5d3c1f0e-plugwire"
SUPPORTED_VERSIONS = (1,)
SOCKET_FILE_NAME = "plugin.sock"
#: PW-BOOT-13: messages of up to 16 MiB in both directions.
MAX_MESSAGE = 16 * 1024 * 1024


class BootstrapError(Exception):
    """Why the plugin cannot start; printed on stderr before exiting 1."""


@dataclass(frozen=True)
class Bootstrap:
    """What the environment told the plugin."""

    version: int
    socket_path: str
    host_socket: str | None
    #: The sixth field under go-plugin's AutoMTLS (PW-GP-3).
    server_cert: str = ""
    #: The client asked about go-plugin's multiplexed broker (PW-GP-4).
    multiplex: bool = False

    def line(self) -> str:
        """PW-BOOT-2: the one line printed on stdout once serving."""
        line = f"1|{self.version}|unix|{self.socket_path}|grpc|{self.server_cert}"
        if self.multiplex:
            line += "|false"
        return line + "\n"


def read(env: Mapping[str, str]) -> Bootstrap:
    """Checks the cookie (PW-BOOT-1), picks the highest common version
    (PW-BOOT-3) and chooses the socket path.

    >>> read({"PLUGWIRE_PLUGIN": COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "1,2",
    ...       "PLUGIN_UNIX_SOCKET_DIR": "/run/p"}).line()
    '1|1|unix|/run/p/plugin.sock|grpc|\\n'
    """
    if env.get(COOKIE_KEY) != COOKIE_VALUE:
        raise BootstrapError(
            "this is a plugwire plugin; it is started by a plugwire host, not by hand "
            "(the PLUGWIRE_PLUGIN cookie is missing). Try `plugwire check DIR`."
        )
    raw = env.get("PLUGIN_PROTOCOL_VERSIONS", "")
    offered: set[int] = set()
    for part in raw.split(","):
        if part.strip().isdigit():
            offered.add(int(part))
    common = offered.intersection(SUPPORTED_VERSIONS)
    if not common:
        raise BootstrapError(
            f"no common protocol version: the host offered {raw!r}, this plugin speaks "
            f"{','.join(map(str, SUPPORTED_VERSIONS))}; upgrade whichever is older"
        )
    socket_dir = env.get("PLUGIN_UNIX_SOCKET_DIR")
    if not socket_dir:
        # go-plugin's servers fall back to the temporary directory, and so
        # does this, with a name of its own there.
        socket_path = os.path.join(tempfile.gettempdir(), f"plugwire-{os.getpid()}.sock")
    elif not os.path.isabs(socket_dir):
        raise BootstrapError(
            f"PLUGIN_UNIX_SOCKET_DIR must be an absolute directory, saw {socket_dir!r}"
        )
    else:
        socket_path = os.path.join(socket_dir, SOCKET_FILE_NAME)
    return Bootstrap(
        version=max(common),
        socket_path=socket_path,
        host_socket=env.get("PLUGWIRE_HOST_SOCKET") or None,
        multiplex=bool(env.get("PLUGIN_MULTIPLEX_GRPC")),
    )
