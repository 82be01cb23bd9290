// Test a plugin inside your own test, over a real socket, with the host's
// side of the protocol (Handshake, Configure) done for you.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CommandServiceClient, RunCommandRequest, RunCommandResponse } from "./gen/plugwire/v1/command";
import { HandleEventResponse, HookMode, HookServiceClient } from "./gen/plugwire/v1/hook";
import { HandshakeResponse, PluginServiceClient } from "./gen/plugwire/v1/plugin";
import { ToolProgress, ToolServiceClient, Tool } from "./gen/plugwire/v1/tool";
import type { ToolOutcome } from "./host";
import type { Declarations } from "./declarations";
import { Running } from "./serve";

/** What a command wrote and its exit code. */
export interface CommandRun {
  stdout: string;
  stderr: string;
  code: number;
}

function unary<Req, Res>(fn: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req, timeoutMs = 10_000): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r))));
}

/** Serves `plugin` in this process and talks to it as a host does. */
export class TestHost {
  handshake: HandshakeResponse | undefined;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "pw-test-"));
  private readonly running: Running;
  private readonly address: string;
  private readonly clients: { close(): void }[] = [];

  private constructor(plugin: Declarations) {
    const socket = path.join(this.dir, "plugin.sock");
    this.address = `unix:${socket}`;
    this.running = new Running(plugin, socket, 1, undefined);
  }

  /** Starts `plugin`, then Handshake and Configure with `config`. */
  static async start(plugin: Declarations, config: Record<string, unknown> = {}): Promise<TestHost> {
    const host = await TestHost.startUnconfigured(plugin);
    try {
      const client = host.client(PluginServiceClient);
      host.handshake = await unary(client.handshake.bind(client), { protocolVersion: 1, features: [], instanceId: "test", pluginName: plugin.name, hostServices: [] });
      await unary(client.configure.bind(client), { configJson: JSON.stringify(config) });
    } catch (e) {
      await host.close();
      throw e;
    }
    return host;
  }

  /** Starts `plugin` without Handshake or Configure, to test what it does before them. */
  static async startUnconfigured(plugin: Declarations): Promise<TestHost> {
    const host = new TestHost(plugin);
    await host.running.start();
    return host;
  }

  /** A client of any service on the plugin's socket. */
  client<C extends { close(): void }>(Client: new (address: string, credentials: grpc.ChannelCredentials) => C): C {
    const client = new Client(this.address, grpc.credentials.createInsecure());
    this.clients.push(client);
    return client;
  }

  async listTools(): Promise<Tool[]> {
    const client = this.client(ToolServiceClient);
    return (await unary(client.listTools.bind(client), {})).tools;
  }

  /** Calls a tool; protocol errors reject with the `ServiceError`. */
  async callTool(name: string, args: unknown = {}, timeoutMs = 10_000): Promise<ToolOutcome> {
    const client = this.client(ToolServiceClient);
    const text = typeof args === "string" ? args : JSON.stringify(args);
    const r = await unary(client.callTool.bind(client), { name, argumentsJson: text }, timeoutMs);
    return { content: JSON.parse(r.result!.contentJson), isError: r.result!.isError };
  }

  /** Calls a tool streaming: its progress reports and result. */
  callToolStream(name: string, args: unknown = {}): Promise<{ progress: ToolProgress[]; outcome: ToolOutcome }> {
    const client = this.client(ToolServiceClient);
    const progress: ToolProgress[] = [];
    return new Promise((resolve, reject) => {
      let outcome: ToolOutcome | undefined;
      const stream = client.callToolStream({ name, argumentsJson: JSON.stringify(args) }, { deadline: Date.now() + 10_000 });
      stream.on("data", (m: { progress?: ToolProgress; result?: { contentJson: string; isError: boolean } }) => {
        if (m.progress) progress.push(m.progress);
        if (m.result) outcome = { content: JSON.parse(m.result.contentJson), isError: m.result.isError };
      });
      stream.on("error", reject);
      stream.on("end", () => (outcome ? resolve({ progress, outcome }) : reject(new Error("the stream ended without a result"))));
    });
  }

  /** Runs a command with `stdin`, then closes it. */
  runCommand(command: string, flags: Record<string, unknown> = {}, args: string[] = [], stdin = ""): Promise<CommandRun> {
    const client = this.client(CommandServiceClient);
    return new Promise((resolve, reject) => {
      const run: CommandRun = { stdout: "", stderr: "", code: -1 };
      const call = client.runCommand({ deadline: Date.now() + 10_000 });
      call.on("data", (r: RunCommandResponse) => {
        if (r.stdout) run.stdout += Buffer.from(r.stdout).toString();
        if (r.stderr) run.stderr += Buffer.from(r.stderr).toString();
        if (r.exit) run.code = r.exit.code;
      });
      call.on("error", reject);
      call.on("end", () => resolve(run));
      call.write(RunCommandRequest.fromPartial({ start: { command, flagsJson: JSON.stringify(flags), args } }));
      if (stdin) call.write(RunCommandRequest.fromPartial({ stdin: Buffer.from(stdin) }));
      call.write(RunCommandRequest.fromPartial({ stdinClose: {} }));
    });
  }

  /** Delivers an event to the plugin's hooks as the host would. */
  emit(name: string, payload: unknown, intercept = true): Promise<HandleEventResponse> {
    const client = this.client(HookServiceClient);
    return unary(client.handleEvent.bind(client), {
      event: { id: "test", name, payloadJson: JSON.stringify(payload), source: "host", time: undefined },
      mode: intercept ? HookMode.HOOK_MODE_INTERCEPT : HookMode.HOOK_MODE_OBSERVE,
      pattern: "",
    });
  }

  /** Stops the plugin and removes its socket. */
  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    this.running.stop(500);
    await this.running.stopped;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
