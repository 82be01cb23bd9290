"""What a HashiCorp go-plugin host sees of a Python plugin (docs/protocol.md
2.6): the controller, the stdio and broker streams, the multiplexing field
and AutoMTLS. The end-to-end run under a real go-plugin host is
interop/go-plugin."""

import base64
import datetime
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from plugwire._goplugin import NO_BROKER
from plugwire.goplugin import plugin_pb2, plugin_pb2_grpc

PROGRAM = textwrap.dedent(
    """
    import atexit, sys
    from plugwire import Plugin
    plugin = Plugin("served", "0.1.0")

    @plugin.tool
    async def ping() -> str:
        '''Answers.'''
        return "pong"

    atexit.register(lambda: print("exit handlers ran", file=sys.stderr, flush=True))
    plugin.serve()
    """
)
COOKIE = {"PLUGWIRE_PLUGIN": "5d3c1f0e-plugwire", "PLUGIN_PROTOCOL_VERSIONS": "1"}


def start(env_extra):
    env = {"PATH": os.environ["PATH"], **COOKIE, **env_extra}
    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def go_plugin_client_cert(issuer_key=None):
    """A certificate made as go-plugin's client makes it: P-521,
    self-signed (or signed by `issuer_key`), marked as a CA, for localhost."""
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "child")]) if issuer_key else name
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .sign(issuer_key or key, hashes.SHA512())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, key


def test_the_controller_stops_the_plugin_at_once_removing_the_socket():
    p = start({})
    path = p.stdout.readline().split("|")[3]
    with grpc.insecure_channel(f"unix://{path}") as channel:
        plugin_pb2_grpc.GRPCControllerStub(channel).Shutdown(plugin_pb2.Empty(), timeout=5)
    assert p.wait(timeout=10) == 0
    assert not os.path.exists(path)
    assert "exit handlers ran" in p.stderr.read()


def test_the_broker_refuses_a_knock_and_both_streams_end_when_the_plugin_stops():
    p = start({})
    path = p.stdout.readline().split("|")[3]
    with grpc.insecure_channel(f"unix://{path}") as channel:
        stdio = plugin_pb2_grpc.GRPCStdioStub(channel).StreamStdio(plugin_pb2.Empty(), timeout=10)
        announce = plugin_pb2.ConnInfo(service_id=1, network="unix", address="/nowhere")
        knock = plugin_pb2.ConnInfo(service_id=7, knock=plugin_pb2.ConnInfo.Knock(knock=True))
        broker = plugin_pb2_grpc.GRPCBrokerStub(channel).StartStream(iter([announce, knock]), timeout=10)
        answer = next(broker)
        assert answer.service_id == 7
        assert answer.knock.knock and not answer.knock.ack and answer.knock.error == NO_BROKER
        plugin_pb2_grpc.GRPCControllerStub(channel).Shutdown(plugin_pb2.Empty(), timeout=5)
        assert list(stdio) == []
        assert list(broker) == []
    assert p.wait(timeout=10) == 0


def test_a_multiplexing_question_gets_a_seventh_field_false():
    with tempfile.TemporaryDirectory() as d:
        p = start({"PLUGIN_UNIX_SOCKET_DIR": d, "PLUGIN_MULTIPLEX_GRPC": "true"})
        assert p.stdout.readline() == f"1|1|unix|{d}/plugin.sock|grpc||false\n"
        p.terminate()
        assert p.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("not a certificate", "holds no PEM certificate"), ("x" * (17 * 1024), "over the 16384-byte limit")],
)
def test_a_client_certificate_that_is_not_one_stops_the_start(value, expected):
    p = start({"PLUGIN_CLIENT_CERT": value})
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1 and out == ""
    assert expected in err and "PLUGIN_CLIENT_CERT" in err


def tls_connect(path, server_der, cert_pem, key_pem):
    """A TLS handshake on the plugin's socket as go-plugin's client makes
    it; the ALPN protocol, or None when the plugin hung up."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=server_der)
    context.set_alpn_protocols(["h2"])
    with tempfile.NamedTemporaryFile("wb") as chain:
        chain.write(key_pem + cert_pem)
        chain.flush()
        context.load_cert_chain(chain.name)
    raw = socket.socket(socket.AF_UNIX)
    raw.settimeout(10)
    raw.connect(path)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        protocol = tls.selected_alpn_protocol()
        # HTTP/2's preface: the plugin's gRPC server answers with SETTINGS.
        try:
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
            answer = tls.recv(9)
        except (ssl.SSLError, OSError):
            return None
        return protocol if answer[3:4] == b"\x04" else None


def test_automtls_serves_tls_to_the_named_client_certificate_only():
    cert_pem, key_pem, key = go_plugin_client_cert()
    p = start({"PLUGIN_CLIENT_CERT": cert_pem.decode()})
    fields = p.stdout.readline().rstrip("\n").split("|")
    assert len(fields) == 6 and fields[5], fields
    server_der = base64.b64decode(fields[5] + "=" * (-len(fields[5]) % 4))
    server = x509.load_der_x509_certificate(server_der)
    assert server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["localhost"]
    assert tls_connect(fields[3], server_der, cert_pem, key_pem) == "h2"
    # Another certificate, and one that chains to the named one (signed
    # with its key): only the named certificate itself is admitted.
    other_pem, other_key, _ = go_plugin_client_cert()
    assert tls_connect(fields[3], server_der, other_pem, other_key) is None
    child_pem, child_key, _ = go_plugin_client_cert(issuer_key=key)
    assert tls_connect(fields[3], server_der, child_pem, child_key) is None
    p.terminate()
    assert p.wait(timeout=10) == 0
    assert not os.path.exists(fields[3])
