// go-plugin interoperability (docs/protocol.md section 2.6): the three
// services a HashiCorp go-plugin client calls besides plugwire's
// (PW-GP-2), and its AutoMTLS (PW-GP-3). The services' messages are two:
// an empty one and ConnInfo, so they are described here rather than
// generated (the buf module holds plugwire's own packages only).

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { BootstrapError } from "./bootstrap";

/** Where a go-plugin client with AutoMTLS puts its certificate (PEM). */
export const ENV_CLIENT_CERT = "PLUGIN_CLIENT_CERT";
/** A PEM certificate is a few hundred bytes; anything far larger is not one. */
export const MAX_CLIENT_CERT = 16 * 1024;
/** The answer to a knock on go-plugin's broker. */
export const NO_BROKER =
  "this plugin does not use go-plugin's broker: plugwire plugins reach their host " +
  "through HostService (PLUGWIRE_HOST_SOCKET)";

/** go-plugin's ConnInfo: a brokered service's announcement or a knock. */
export interface ConnInfo {
  serviceId: number;
  network: string;
  address: string;
  knock?: { knock: boolean; ack: boolean; error: string };
}

export function encodeConnInfo(info: ConnInfo): Buffer {
  const w = new BinaryWriter();
  if (info.serviceId) w.uint32(8).uint32(info.serviceId);
  if (info.network) w.uint32(18).string(info.network);
  if (info.address) w.uint32(26).string(info.address);
  if (info.knock) {
    w.uint32(34).fork();
    if (info.knock.knock) w.uint32(8).bool(true);
    if (info.knock.ack) w.uint32(16).bool(true);
    if (info.knock.error) w.uint32(26).string(info.knock.error);
    w.join();
  }
  return Buffer.from(w.finish());
}

/** Throws on bytes that are not a well-formed ConnInfo, which ends the
 * stream with INTERNAL, as a generated decoder would. */
export function decodeConnInfo(bytes: Uint8Array): ConnInfo {
  const r = new BinaryReader(bytes);
  const info: ConnInfo = { serviceId: 0, network: "", address: "" };
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === 0) info.serviceId = r.uint32();
    else if (field === 2 && type === 2) info.network = r.string();
    else if (field === 3 && type === 2) info.address = r.string();
    else if (field === 4 && type === 2) {
      const inner = new BinaryReader(r.bytes());
      const knock = { knock: false, ack: false, error: "" };
      while (inner.pos < inner.len) {
        const [f, t] = inner.tag();
        if (f === 1 && t === 0) knock.knock = inner.bool();
        else if (f === 2 && t === 0) knock.ack = inner.bool();
        else if (f === 3 && t === 2) knock.error = inner.string();
        else inner.skip(t);
      }
      info.knock = knock;
    } else r.skip(type);
  }
  return info;
}

interface Codec<T> {
  serialize: (value: T) => Buffer;
  deserialize: (bytes: Buffer) => T;
}

const empty: Codec<Record<string, never>> = { serialize: () => Buffer.alloc(0), deserialize: () => ({}) };
const connInfo: Codec<ConnInfo> = { serialize: encodeConnInfo, deserialize: decodeConnInfo };

function service<Req, Res>(
  name: string,
  method: string,
  streams: { request: boolean; response: boolean },
  request: Codec<Req>,
  response: Codec<Res>,
): grpc.ServiceDefinition {
  const definition = {
    path: `/plugin.${name}/${method}`,
    requestStream: streams.request,
    responseStream: streams.response,
    requestSerialize: request.serialize,
    requestDeserialize: request.deserialize,
    responseSerialize: response.serialize,
    responseDeserialize: response.deserialize,
  };
  return { [method]: definition } as grpc.ServiceDefinition;
}

// StdioData is never sent: the stream carries nothing (see below).
/** The three services' definitions, for clients as well. */
export const controller = service("GRPCController", "Shutdown", { request: false, response: false }, empty, empty);
export const stdio = service("GRPCStdio", "StreamStdio", { request: false, response: true }, empty, empty);
export const broker = service("GRPCBroker", "StartStream", { request: true, response: true }, connInfo, connInfo);

/** Adds the controller, stdio and broker services. `stop` is what the
 * controller's Shutdown does; the two streams end once `stopping` settles,
 * so they do not hold up a graceful stop. */
export function addGoPluginServices(server: grpc.Server, stop: () => void, stopping: Promise<void>): void {
  server.addService(controller, {
    Shutdown: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      callback(null, {});
      stop();
    },
  });
  // Open and empty until the plugin stops: its stderr is the real one,
  // which go-plugin reads as the plugin's log.
  server.addService(stdio, {
    StreamStdio: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      call.on("cancelled", () => call.end());
      void stopping.then(() => call.end());
    },
  });
  // Announcements are ignored and knocks refused, until the plugin stops
  // or the client hangs up.
  server.addService(broker, {
    StartStream: (call: grpc.ServerDuplexStream<ConnInfo, ConnInfo>) => {
      call.on("data", (info: ConnInfo) => {
        if (info.knock?.knock) {
          call.write({
            serviceId: info.serviceId,
            network: "",
            address: "",
            knock: { knock: true, ack: false, error: NO_BROKER },
          });
        }
      });
      call.on("end", () => call.end());
      call.on("cancelled", () => call.end());
      void stopping.then(() => call.end());
    },
  });
}

/** The TLS side of one serving plugin. */
export interface AutoMtls {
  key: string;
  cert: string;
  clientPem: string;
  /** The client certificate (DER) that alone may connect. */
  pinned: Buffer;
  /** The plugin's certificate as the bootstrap line's sixth field carries
   * it: DER, unpadded standard base64. */
  serverCert: string;
}

/** Answers `PLUGIN_CLIENT_CERT` with a one-time certificate of the
 * plugin's own; undefined when it is absent or empty (cleartext). */
export async function autoMtls(env: NodeJS.ProcessEnv): Promise<AutoMtls | undefined> {
  const pem = env[ENV_CLIENT_CERT] ?? "";
  if (!pem.trim()) return undefined;
  const size = Buffer.byteLength(pem);
  if (size > MAX_CLIENT_CERT) {
    throw new BootstrapError(`${ENV_CLIENT_CERT} is ${size} bytes, over the ${MAX_CLIENT_CERT}-byte limit: expected one PEM certificate`);
  }
  let client: crypto.X509Certificate;
  try {
    client = new crypto.X509Certificate(pem);
  } catch (e) {
    throw new BootstrapError(
      `${ENV_CLIENT_CERT} holds no PEM certificate (${(e as Error).message}): expected ` +
        "`-----BEGIN CERTIFICATE-----` ...; unset it to serve without TLS",
    );
  }
  // Loaded here: only a go-plugin host with AutoMTLS pays for it.
  // @peculiar/x509's dependency injection needs the Reflect metadata API.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  const webcrypto = crypto.webcrypto as Crypto;
  x509.cryptoProvider.set(webcrypto);
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: crypto.randomBytes(16).toString("hex").replace(/^[89a-f]/, "1"),
    name: "CN=localhost",
    notBefore: new Date(now - 30_000),
    notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const der = Buffer.from(cert.rawData);
  return {
    key: crypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString(),
    cert: cert.toString("pem"),
    clientPem: client.toString(),
    pinned: client.raw,
    serverCert: der.toString("base64").replace(/=+$/, ""),
  };
}

/** A client that has not finished its TLS handshake by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Serves AutoMTLS on the plugin's socket and hands each connection whose
 * client certificate is exactly the pinned one to the gRPC server, which
 * listens on a socket in a private directory. grpc-js checks a client's
 * chain but offers no hook to pin the certificate itself. */
export class TlsFront {
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "plugwire-tls-"));
  /** Where the gRPC server listens (cleartext, reachable by this user only). */
  readonly innerPath = path.join(this.dir, "grpc.sock");
  private server: tls.Server | undefined;

  constructor(private readonly mtls: AutoMtls) {}

  listen(socketPath: string): Promise<void> {
    const server = tls.createServer({
      key: this.mtls.key,
      cert: this.mtls.cert,
      ca: [this.mtls.clientPem],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      ALPNProtocols: ["h2"],
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    server.on("secureConnection", (socket) => this.connection(socket));
    server.on("tlsClientError", () => {});
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", (e) => reject(new BootstrapError(`cannot bind ${socketPath}: ${e.message}`)));
      server.listen(socketPath, () => resolve());
    });
  }

  close(): void {
    this.server?.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private connection(socket: tls.TLSSocket): void {
    socket.on("error", () => socket.destroy());
    const peer = socket.getPeerCertificate();
    if (!peer.raw || !peer.raw.equals(this.mtls.pinned)) {
      socket.destroy();
      return;
    }
    const inner = net.connect(this.innerPath);
    inner.on("error", () => socket.destroy());
    socket.on("close", () => inner.destroy());
    inner.on("close", () => socket.destroy());
    socket.pipe(inner);
    inner.pipe(socket);
  }
}
