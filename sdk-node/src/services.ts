// The protocol's services over a plugin's declarations (@grpc/grpc-js).

import * as grpc from "@grpc/grpc-js";
import { FLAG_TYPES, Output, Stdin } from "./command";
import { ConfigError } from "./errors";
import {
  CommandServiceServer,
  Command as CommandMessage,
  RunCommandRequest,
  RunCommandResponse,
  Signal,
} from "./gen/plugwire/v1/command";
import { Decision as DecisionKind, FailurePolicy, HandleEventResponse, HookMode, HookServiceServer } from "./gen/plugwire/v1/hook";
import { HandshakeResponse, PluginServiceServer } from "./gen/plugwire/v1/plugin";
import { CallToolStreamResponse, ToolResult, ToolServiceServer, Tool as ToolMessage } from "./gen/plugwire/v1/tool";
import { patternMatches } from "./hook";
import { located } from "./schema";
import { CALL_CHAIN, HostClient, hostClient } from "./host";
import { log } from "./log";
import type { Declarations, ToolEntry } from "./declarations";
import { ToolContext, ToolError } from "./tool";

export const SDK_VERSION = "0.1.0";
/** PW-SHUT-1: the drain of a stop that names no grace (plugwire's Shutdown
 * without one, go-plugin's controller). */
export const DEFAULT_GRACE_MS = 5000;

type Failure = { code: grpc.status; details: string };

/** What every service shares: the plugin, whether it is configured, and
 * how to stop. */
export class State {
  config: Record<string, unknown> | undefined;
  host: HostClient = new HostClient(undefined);

  constructor(
    readonly plugin: Declarations,
    readonly version: number,
    readonly hostSocket: string | undefined,
    readonly stop: (graceMs: number) => void,
  ) {}

  configured(): Record<string, unknown> | Failure {
    return (
      this.config ?? {
        code: grpc.status.FAILED_PRECONDITION,
        details: "the plugin is not configured yet: the host calls Configure after Handshake, before any call",
      }
    );
  }
}

function isFailure(value: unknown): value is Failure {
  return typeof value === "object" && value !== null && "code" in value && "details" in value;
}

export function pluginService(state: State): PluginServiceServer {
  return {
    handshake(call, callback) {
      if (call.request.protocolVersion !== state.version) {
        return callback({
          code: grpc.status.FAILED_PRECONDITION,
          details: `protocol version ${call.request.protocolVersion} differs from the version printed (${state.version})`,
        });
      }
      state.host = hostClient(
        state.hostSocket,
        call.request.features.includes("host.service"),
        call.request.hostServices,
      );
      const p = state.plugin;
      const features = [...p.features];
      if (p.tools.size) features.push("tool.progress");
      callback(
        null,
        HandshakeResponse.fromPartial({
          plugin: { name: p.name, version: p.version, description: p.description },
          sdk: { name: "plugwire-node", version: SDK_VERSION },
          features,
          capabilities: {
            tools: [...p.tools.keys()],
            commands: [...p.commands.keys()],
            hooks: p.hooks.map((h) => ({
              pattern: h.pattern,
              mode: h.intercept ? HookMode.HOOK_MODE_INTERCEPT : HookMode.HOOK_MODE_OBSERVE,
              priority: h.priority,
              failurePolicy: !h.intercept
                ? FailurePolicy.FAILURE_POLICY_UNSPECIFIED
                : h.failClosed
                  ? FailurePolicy.FAILURE_POLICY_CLOSED
                  : FailurePolicy.FAILURE_POLICY_OPEN,
            })),
            providers: p.providers.map((v) => ({ service: v.service, name: v.name })),
          },
        }),
      );
    },
    async configure(call, callback) {
      const text = call.request.configJson.trim() || "{}";
      let config: unknown;
      try {
        config = JSON.parse(text);
      } catch (e) {
        return callback({ code: grpc.status.INVALID_ARGUMENT, details: `config: expected a JSON object, the text is not JSON: ${(e as Error).message}` });
      }
      if (typeof config !== "object" || config === null || Array.isArray(config)) {
        return callback({ code: grpc.status.INVALID_ARGUMENT, details: `config: expected a JSON object, saw ${text.slice(0, 80)}` });
      }
      if (state.config !== undefined) {
        return callback({ code: grpc.status.FAILED_PRECONDITION, details: "the plugin is already configured; Configure is called once per process" });
      }
      for (const hook of state.plugin.configureHooks) {
        try {
          await hook(config as Record<string, unknown>);
        } catch (e) {
          if (e instanceof ConfigError) return callback({ code: grpc.status.INVALID_ARGUMENT, details: e.message });
          throw e;
        }
      }
      state.config = config as Record<string, unknown>;
      callback(null, {});
    },
    shutdown(call, callback) {
      const grace = call.request.grace;
      callback(null, {});
      state.stop(grace ? grace.seconds * 1000 + grace.nanos / 1e6 : DEFAULT_GRACE_MS);
    },
  };
}

/** An AbortSignal for a call: aborted on cancellation or at its deadline. */
interface Cancellable {
  getDeadline(): grpc.Deadline;
  on(event: "cancelled", listener: () => void): unknown;
}

function callSignal(call: Cancellable): {
  signal: AbortSignal;
  deadline: number | undefined;
  done: () => void;
} {
  const controller = new AbortController();
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : Number.isFinite(raw) ? Number(raw) : undefined;
  let finished = false;
  const timer = deadline === undefined ? undefined : setTimeout(() => controller.abort(new Error("deadline exceeded")), Math.max(0, deadline - Date.now()));
  // A call that answered is not cancelled by what its transport does next.
  call.on("cancelled", () => finished || controller.abort(new Error("cancelled")));
  const done = () => {
    finished = true;
    clearTimeout(timer);
  };
  return { signal: controller.signal, deadline, done };
}

/** PW-TOOL-16's mark: the host checked the arguments against our schema. */
function argumentsValidated(metadata: grpc.Metadata): boolean {
  const marks = metadata.get("plugwire-arguments-validated");
  return marks.length === 1 && marks[0] === "1";
}

function chainOf(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get(CALL_CHAIN)[0];
  return typeof value === "string" ? value : undefined;
}

async function runTool(tool: ToolEntry, args: unknown, cx: ToolContext): Promise<ToolResult> {
  try {
    const content = await tool.handler(args, cx);
    return { isError: false, contentJson: JSON.stringify(content ?? null) };
  } catch (e) {
    if (e instanceof ToolError) return { isError: true, contentJson: JSON.stringify(e.content) };
    // The tool's bug is still the tool's failure, and worth a log line.
    log.error(`tool ${tool.name} threw`, { error: String((e as Error)?.stack ?? e) });
    return { isError: true, contentJson: JSON.stringify(`tool ${tool.name} threw ${(e as Error)?.name ?? "an error"}: ${(e as Error)?.message ?? e}`) };
  }
}

export function toolService(state: State): ToolServiceServer {
  const prepare = (name: string, argumentsJson: string, validated: boolean): { tool: ToolEntry; args: unknown; config: Record<string, unknown> } | Failure => {
    const config = state.configured();
    if (isFailure(config)) return config;
    const tool = state.plugin.tools.get(name);
    if (!tool) {
      const known = [...state.plugin.tools.keys()].join(", ") || "none";
      return { code: grpc.status.NOT_FOUND, details: `no tool "${name}"; this plugin has: ${known}` };
    }
    const parsed = tool.args.parse(argumentsJson, validated);
    if ("problem" in parsed) {
      return { code: grpc.status.INVALID_ARGUMENT, details: located("arguments", parsed.problem.pointer, parsed.problem.problem) };
    }
    return { tool, args: parsed.value, config };
  };
  return {
    listTools(_call, callback) {
      callback(null, {
        tools: [...state.plugin.tools.values()].map((t) =>
          ToolMessage.fromPartial({
            name: t.name,
            description: t.description,
            inputSchemaJson: JSON.stringify(t.args.schema),
            outputSchemaJson: t.output ? JSON.stringify(t.output) : "",
            annotations: t.hints,
          }),
        ),
      });
    },
    async callTool(call, callback) {
      const ready = prepare(call.request.name, call.request.argumentsJson, argumentsValidated(call.metadata));
      if (isFailure(ready)) return callback(ready);
      const { signal, deadline, done } = callSignal(call);
      const cx = new ToolContext(ready.tool.name, ready.config, state.host.forCall(chainOf(call.metadata)), signal, deadline, undefined);
      const result = await runTool(ready.tool, ready.args, cx);
      done();
      callback(null, { result });
    },
    async callToolStream(call) {
      const ready = prepare(call.request.name, call.request.argumentsJson, argumentsValidated(call.metadata));
      if (isFailure(ready)) return call.emit("error", ready);
      const { signal, deadline, done } = callSignal(call);
      const send = (message: Partial<CallToolStreamResponse>) => {
        if (!signal.aborted) call.write(CallToolStreamResponse.fromPartial(message));
      };
      const cx = new ToolContext(ready.tool.name, ready.config, state.host.forCall(chainOf(call.metadata)), signal, deadline, (progress) => send({ progress }));
      const result = await runTool(ready.tool, ready.args, cx);
      done();
      send({ result });
      call.end();
    },
  };
}

export function commandService(state: State): CommandServiceServer {
  return {
    listCommands(_call, callback) {
      callback(null, {
        commands: [...state.plugin.commands.values()].map((c) =>
          CommandMessage.fromPartial({
            name: c.name,
            parent: c.parent,
            usage: c.usage,
            short: c.short,
            long: c.long,
            aliases: c.aliases,
            flags: Object.entries(c.flags).map(([name, f]) => ({
              name,
              short: f.short ?? "",
              type: FLAG_TYPES[f.type],
              description: f.description ?? "",
              defaultJson: f.default === undefined ? "" : JSON.stringify(f.default),
              required: f.required ?? false,
            })),
            args: c.args.map((a) => ({ name: a.name, description: a.description ?? "", required: a.required ?? false, variadic: a.variadic ?? false })),
          }),
        ),
      });
    },
    runCommand(call) {
      const config = state.configured();
      if (isFailure(config)) return call.emit("error", config);
      const stdin = new Stdin();
      const interrupt = new AbortController();
      let started = false;
      let finished = false;
      const send = (message: Partial<RunCommandResponse>) => {
        if (!finished) call.write(RunCommandResponse.fromPartial(message));
      };
      call.on("cancelled", () => {
        interrupt.abort(new Error("cancelled"));
        stdin.feed(null);
      });
      call.on("end", () => stdin.feed(null)); // PW-CMD-5: a half-close ends stdin
      call.on("data", (request: RunCommandRequest) => {
        if (started) {
          if (request.stdin) stdin.feed(Buffer.from(request.stdin));
          else if (request.stdinClose) stdin.feed(null);
          else if (request.signal !== undefined && request.signal !== Signal.SIGNAL_UNSPECIFIED) interrupt.abort(new Error(Signal[request.signal]));
          return;
        }
        started = true;
        const start = request.start;
        if (!start) return call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "the first RunCommand message must be `start`" });
        const command = state.plugin.commands.get(start.command);
        if (!command) {
          const known = [...state.plugin.commands.keys()].join(", ") || "none";
          return call.emit("error", { code: grpc.status.NOT_FOUND, details: `no command "${start.command}"; this plugin has: ${known}` });
        }
        const cx = {
          command: start.command,
          flags: JSON.parse(start.flagsJson || "{}"),
          args: start.args,
          env: start.env,
          stdin,
          stdout: new Output((chunk) => send({ stdout: chunk })),
          stderr: new Output((chunk) => send({ stderr: chunk })),
          config,
          terminal: start.terminal,
          signal: interrupt.signal,
        };
        command
          .handler(cx)
          .then(
            (code) => code ?? 0,
            (e) => {
              log.error(`command ${start.command} threw`, { error: String((e as Error)?.stack ?? e) });
              send({ stderr: Buffer.from(`${start.command}: internal error (see the plugin's log)\n`) });
              return 1;
            },
          )
          .then((code) => {
            send({ exit: { code } });
            finished = true;
            call.end();
          });
      });
    },
  };
}

export function hookService(state: State): HookServiceServer {
  return {
    async handleEvent(call, callback) {
      const config = state.configured();
      if (isFailure(config)) return callback(config);
      const proceed = HandleEventResponse.fromPartial({ decision: DecisionKind.DECISION_CONTINUE });
      const event = call.request.event;
      const intercept = call.request.mode === HookMode.HOOK_MODE_INTERCEPT;
      const hook = event && state.plugin.hooks.find((h) => h.intercept === intercept && patternMatches(h.pattern, event.name));
      if (!event || !hook) return callback(null, proceed); // PW-HOOK-6
      let payload: unknown = null;
      try {
        payload = event.payloadJson ? JSON.parse(event.payloadJson) : null;
      } catch {
        payload = event.payloadJson;
      }
      const { signal, done } = callSignal(call);
      try {
        const event_ = { id: event.id, name: event.name, payload, source: event.source, time: event.time, pattern: call.request.pattern };
        const decision = await hook.handler(event_, { signal, config });
        callback(null, decision ? decision.response() : proceed);
      } finally {
        done();
      }
    },
  };
}
