// What a HashiCorp go-plugin host sees of a Node plugin (docs/protocol.md
// 2.6): the controller, the stdio and broker streams, the multiplexing
// field and AutoMTLS. The end-to-end run under a real go-plugin host is
// interop/go-plugin.

import "reflect-metadata";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as x509 from "@peculiar/x509";
import { type ConnInfo, NO_BROKER, broker, controller, decodeConnInfo, encodeConnInfo, stdio } from "../src/goplugin";

const program = `
process.on("exit", () => process.stderr.write("exit handlers ran\\n"));
const { Plugin, z } = require(${JSON.stringify(path.join(__dirname, "../src/index"))});
new Plugin({ name: "served", version: "0.1.0" })
  .tool("ping", { description: "Answers", input: z.strictObject({}) }, async () => "pong")
  .serve();
`;
const cookie = { PLUGWIRE_PLUGIN: "5d3c1f0e-plugwire", PLUGIN_PROTOCOL_VERSIONS: "1" };

function start(env: Record<string, string>): { child: ChildProcess; line: Promise<string>; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, ["-e", program], { env: { ...cookie, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const line = new Promise<string>((resolve) => child.stdout!.once("data", (b: Buffer) => resolve(b.toString())));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  // A failed assertion must not leave the plugin running (and the runner
  // waiting for it).
  after(() => child.kill("SIGKILL"));
  return { child, line, exited, stderr: () => stderr };
}

const Controller = grpc.makeGenericClientConstructor(controller, "GRPCController");
const Stdio = grpc.makeGenericClientConstructor(stdio, "GRPCStdio");
const Broker = grpc.makeGenericClientConstructor(broker, "GRPCBroker");

function shutdown(socket: string): Promise<void> {
  const client = new Controller(`unix:${socket}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    (client as unknown as { Shutdown: (r: object, cb: (e: Error | null) => void) => void }).Shutdown({}, (e) => {
      client.close();
      return e ? reject(e) : resolve();
    }),
  );
}

test("ConnInfo round-trips through its wire form", () => {
  const info: ConnInfo = { serviceId: 300, network: "unix", address: "/a", knock: { knock: true, ack: false, error: "no" } };
  assert.deepEqual(decodeConnInfo(encodeConnInfo(info)), info);
  assert.throws(() => decodeConnInfo(Buffer.from([0x22, 0x05, 0x08])));
});

test("the controller stops the plugin at once, removing the socket", async () => {
  const p = start({});
  const socket = (await p.line).split("|")[3];
  await shutdown(socket);
  assert.equal(await p.exited, 0);
  assert.ok(!fs.existsSync(socket));
  assert.match(p.stderr(), /exit handlers ran/);
});

test("the broker refuses a knock, and both streams end when the plugin stops", async () => {
  const p = start({});
  const socket = (await p.line).split("|")[3];
  const stdioClient = new Stdio(`unix:${socket}`, grpc.credentials.createInsecure());
  const brokerClient = new Broker(`unix:${socket}`, grpc.credentials.createInsecure());
  const out = (stdioClient as unknown as { StreamStdio: (r: object) => grpc.ClientReadableStream<unknown> }).StreamStdio({});
  const stdioData: unknown[] = [];
  out.on("data", (d) => stdioData.push(d));
  const stdioEnded = new Promise<void>((resolve) => out.on("end", resolve));
  const stream = (brokerClient as unknown as { StartStream: () => grpc.ClientDuplexStream<ConnInfo, ConnInfo> }).StartStream();
  const answers: ConnInfo[] = [];
  const first = new Promise<void>((resolve) => stream.on("data", (d: ConnInfo) => (answers.push(d), resolve())));
  const brokerEnded = new Promise<void>((resolve) => stream.on("end", resolve));
  stream.on("error", () => {});
  stream.write({ serviceId: 1, network: "unix", address: "/nowhere" });
  stream.write({ serviceId: 7, network: "", address: "", knock: { knock: true, ack: false, error: "" } });
  await first;
  assert.deepEqual(answers[0], { serviceId: 7, network: "", address: "", knock: { knock: true, ack: false, error: NO_BROKER } });
  await shutdown(socket);
  await Promise.all([stdioEnded, brokerEnded]);
  assert.deepEqual(stdioData, []);
  assert.equal(answers.length, 1);
  assert.equal(await p.exited, 0);
  stdioClient.close();
  brokerClient.close();
});

test("a multiplexing question gets a seventh field false", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pw-gp-"));
  const p = start({ PLUGIN_UNIX_SOCKET_DIR: dir, PLUGIN_MULTIPLEX_GRPC: "true" });
  assert.equal(await p.line, `1|1|unix|${dir}/plugin.sock|grpc||false\n`);
  p.child.kill("SIGTERM");
  assert.equal(await p.exited, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

for (const [value, expected] of [
  ["not a certificate", /holds no PEM certificate/],
  ["x".repeat(17 * 1024), /over the 16384-byte limit/],
] as const) {
  test(`a client certificate that is not one stops the start (${expected.source})`, () => {
    const r = spawnSync(process.execPath, ["-e", program], { env: { ...cookie, PLUGIN_CLIENT_CERT: value }, encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, expected);
    assert.match(r.stderr, /PLUGIN_CLIENT_CERT/);
  });
}

/** A certificate made as go-plugin's client makes it: P-521, marked as a CA,
 * self-signed or signed by `issuer`. */
async function goPluginClientCert(issuer?: CryptoKeyPair): Promise<{ pem: string; key: string; keys: CryptoKeyPair }> {
  const webcrypto = crypto.webcrypto as Crypto;
  x509.cryptoProvider.set(webcrypto);
  const algorithm = { name: "ECDSA", namedCurve: "P-521", hash: "SHA-512" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const common = {
    serialNumber: "01" + crypto.randomBytes(8).toString("hex"),
    notBefore: new Date(Date.now() - 30_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
    ],
  };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: "CN=child",
        issuer: "CN=localhost",
        publicKey: keys.publicKey,
        signingKey: issuer.privateKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: "CN=localhost", keys });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = crypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
  return { pem: cert.toString("pem"), key, keys };
}

/** A TLS handshake on the plugin's socket as go-plugin's client makes it,
 * then HTTP/2's preface: the ALPN protocol when the plugin's gRPC server
 * answered with SETTINGS, undefined when it hung up. */
function tlsConnect(socket: string, serverPem: string, client: { pem: string; key: string }): Promise<string | undefined> {
  return new Promise((resolve) => {
    const conn = tls.connect({ path: socket, ca: serverPem, cert: client.pem, key: client.key, servername: "localhost", ALPNProtocols: ["h2"] });
    conn.on("error", () => resolve(undefined));
    conn.on("close", () => resolve(undefined));
    conn.on("secureConnect", () => {
      conn.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from("000000040000000000", "hex")]));
    });
    conn.once("data", (b: Buffer) => {
      resolve(b[3] === 4 ? (conn.alpnProtocol as string) : undefined);
      conn.destroy();
    });
  });
}

test("AutoMTLS serves TLS to the named client certificate only", async () => {
  const client = await goPluginClientCert();
  const p = start({ PLUGIN_CLIENT_CERT: client.pem });
  const fields = (await p.line).trimEnd().split("|");
  assert.equal(fields.length, 6);
  const server = new crypto.X509Certificate(Buffer.from(fields[5], "base64"));
  assert.equal(server.subjectAltName, "DNS:localhost");
  assert.equal(await tlsConnect(fields[3], server.toString(), client), "h2");
  // Another certificate, and one that chains to the named one (signed
  // with its key): only the named certificate itself is admitted.
  assert.equal(await tlsConnect(fields[3], server.toString(), await goPluginClientCert()), undefined);
  assert.equal(await tlsConnect(fields[3], server.toString(), await goPluginClientCert(client.keys)), undefined);
  p.child.kill("SIGTERM");
  assert.equal(await p.exited, 0);
  assert.ok(!fs.existsSync(fields[3]));
});
