// The whole bootstrap, as a host sees it, in a child process.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

const program = `
const { Plugin, z } = require(${JSON.stringify(path.join(__dirname, "../src/index"))});
new Plugin({ name: "served", version: "0.1.0" })
  .tool("ping", { description: "Answers", input: z.strictObject({}) }, async () => "pong")
  .serve();
`;

const cookie = { PLUGWIRE_PLUGIN: "5d3c1f0e-plugwire" };

test("without the cookie it explains and exits 1", () => {
  const r = spawnSync(process.execPath, ["-e", program], { env: { PATH: process.env.PATH }, encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /plugwire plugin.*PLUGWIRE_PLUGIN/);
});

test("no common version is refused", () => {
  const r = spawnSync(process.execPath, ["-e", program], { env: { ...cookie, PLUGIN_PROTOCOL_VERSIONS: "7" }, encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no common protocol version/);
});

test("it prints the line, and on SIGTERM exits 0 with the socket removed", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pw-serve-"));
  const child = spawn(process.execPath, ["-e", program], {
    env: { ...cookie, PLUGIN_PROTOCOL_VERSIONS: "1", PLUGIN_UNIX_SOCKET_DIR: dir },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve) => child.stdout.once("data", (b: Buffer) => resolve(b.toString())));
  const socket = path.join(dir, "plugin.sock");
  assert.equal(line, `1|1|unix|${socket}|grpc|\n`);
  assert.ok(fs.existsSync(socket));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  assert.equal(await exited, 0);
  assert.ok(!fs.existsSync(socket));
  fs.rmSync(dir, { recursive: true, force: true });
});

test("without a socket directory it uses the temporary one", async () => {
  const child = spawn(process.execPath, ["-e", program], { env: { ...cookie, PLUGIN_PROTOCOL_VERSIONS: "1" }, stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve) => child.stdout.once("data", (b: Buffer) => resolve(b.toString())));
  const socket = line.split("|")[3];
  assert.ok(socket.startsWith(os.tmpdir()) && socket.endsWith(".sock"), line);
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  assert.equal(await exited, 0);
  assert.ok(!fs.existsSync(socket));
});
