"""go-plugin interoperability (docs/protocol.md section 2.6): the three
services a HashiCorp go-plugin client calls besides plugwire's (PW-GP-2),
and its AutoMTLS (PW-GP-3)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from ._bootstrap import BootstrapError
from .goplugin import plugin_pb2, plugin_pb2_grpc

#: Where a go-plugin client with AutoMTLS puts its certificate (PEM).
ENV_CLIENT_CERT = "PLUGIN_CLIENT_CERT"
#: A PEM certificate is a few hundred bytes; anything far larger is not one.
MAX_CLIENT_CERT = 16 * 1024
#: The answer to a knock on go-plugin's broker.
NO_BROKER = (
    "this plugin does not use go-plugin's broker: plugwire plugins reach their host "
    "through HostService (PLUGWIRE_HOST_SOCKET)"
)

Context = grpc.aio.ServicerContext[Any, Any]


def add_to_server(server: grpc.aio.Server, stop: Callable[[], None], stopping: asyncio.Event) -> None:
    """Registers the controller, stdio and broker services. `stop` is what
    the controller's Shutdown does; the two streams end once `stopping` is
    set, so they do not hold up a graceful stop."""
    plugin_pb2_grpc.add_GRPCControllerServicer_to_server(_Controller(stop), server)
    plugin_pb2_grpc.add_GRPCStdioServicer_to_server(_Stdio(stopping), server)
    plugin_pb2_grpc.add_GRPCBrokerServicer_to_server(_Broker(stopping), server)


class _Controller(plugin_pb2_grpc.GRPCControllerServicer):
    """What `Client.Kill` calls: a stop with the default grace."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop

    async def Shutdown(self, request: plugin_pb2.Empty, context: Context) -> plugin_pb2.Empty:
        self._stop()
        return plugin_pb2.Empty()


class _Stdio(plugin_pb2_grpc.GRPCStdioServicer):
    """Open and empty until the plugin stops: its stderr is the real one,
    which go-plugin reads as the plugin's log."""

    def __init__(self, stopping: asyncio.Event) -> None:
        self._stopping = stopping

    async def StreamStdio(self, request: plugin_pb2.Empty, context: Context) -> None:
        await self._stopping.wait()


class _Broker(plugin_pb2_grpc.GRPCBrokerServicer):
    """Ignores announcements and refuses knocks, until the plugin stops or
    the client hangs up."""

    def __init__(self, stopping: asyncio.Event) -> None:
        self._stopping = stopping

    async def StartStream(self, request_iterator: Any, context: Context) -> None:
        reader = asyncio.ensure_future(self._refuse_knocks(context))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            stopping.cancel()

    async def _refuse_knocks(self, context: Context) -> None:
        while True:
            info = await context.read()
            if info is grpc.aio.EOF:
                return
            if info.HasField("knock") and info.knock.knock:
                await context.write(
                    plugin_pb2.ConnInfo(
                        service_id=info.service_id,
                        knock=plugin_pb2.ConnInfo.Knock(knock=True, ack=False, error=NO_BROKER),
                    )
                )


@dataclass(frozen=True)
class AutoMTLS:
    """The TLS side of one serving plugin."""

    context: ssl.SSLContext
    #: The client certificate (DER) that alone may connect.
    pinned: bytes
    #: The plugin's certificate as the bootstrap line's sixth field carries
    #: it: DER, unpadded standard base64.
    server_cert: str


def auto_mtls(env: Mapping[str, str]) -> AutoMTLS | None:
    """Answers `PLUGIN_CLIENT_CERT` with a one-time certificate of the
    plugin's own; None when it is absent or empty (cleartext)."""
    pem = env.get(ENV_CLIENT_CERT, "")
    if not pem.strip():
        return None
    if len(pem.encode()) > MAX_CLIENT_CERT:
        raise BootstrapError(
            f"{ENV_CLIENT_CERT} is {len(pem.encode())} bytes, over the {MAX_CLIENT_CERT}-byte "
            "limit: expected one PEM certificate"
        )
    # Imported here: only a go-plugin host with AutoMTLS pays for it.
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    try:
        client = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as e:
        raise BootstrapError(
            f"{ENV_CLIENT_CERT} holds no PEM certificate ({e}): expected "
            "`-----BEGIN CERTIFICATE-----` ...; unset it to serve without TLS"
        ) from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    # ssl loads a key only from a file: one in a private directory, removed
    # at once.
    with tempfile.TemporaryDirectory(prefix="plugwire-tls-") as private:
        chain = os.path.join(private, "plugin.pem")
        fd = os.open(chain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        context.load_cert_chain(chain)
    # The chain check makes OpenSSL ask for and check a certificate; the pin
    # in TlsFront then admits exactly this one.
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=client.public_bytes(serialization.Encoding.PEM).decode())
    der = cert.public_bytes(serialization.Encoding.DER)
    return AutoMTLS(
        context,
        client.public_bytes(serialization.Encoding.DER),
        base64.b64encode(der).decode().rstrip("="),
    )


class TlsFront:
    """Serves AutoMTLS on the plugin's socket and hands each connection whose
    client certificate is the pinned one to the gRPC server, which listens
    on a socket in a private directory.

    grpcio's TLS (BoringSSL) cannot verify go-plugin's P-521 client keys,
    so TLS ends here, in Python's ssl (OpenSSL), which also lets the
    certificate be pinned byte for byte.
    """

    #: A client that has not finished its TLS handshake by then is dropped.
    HANDSHAKE_TIMEOUT_S = 10.0

    def __init__(self, mtls: AutoMTLS) -> None:
        self._mtls = mtls
        self._private = tempfile.mkdtemp(prefix="plugwire-tls-")
        #: Where the gRPC server listens (cleartext, reachable by this user only).
        self.inner_path = os.path.join(self._private, "grpc.sock")
        self._server: asyncio.Server | None = None

    async def start(self, socket_path: str) -> None:
        self._server = await asyncio.start_unix_server(
            self._connection,
            socket_path,
            ssl=self._mtls.context,
            ssl_handshake_timeout=self.HANDSHAKE_TIMEOUT_S,
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(OSError):
            os.unlink(self.inner_path)
        with contextlib.suppress(OSError):
            os.rmdir(self._private)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = writer.get_extra_info("ssl_object")
        if tls is None or tls.getpeercert(binary_form=True) != self._mtls.pinned:
            writer.close()
            return
        try:
            inner_reader, inner_writer = await asyncio.open_unix_connection(self.inner_path)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
