// The echo plugin in TypeScript: the echo tool, the command cat, and the
// conformance fixture profile of docs/conformance.md (the tools sleep and
// stats, the command exit, the hook conformance.intercept).

import * as grpc from "@grpc/grpc-js";
import { Lifecycle, serve } from "./serve";
import {
  Command,
  CommandServiceServer,
  CommandServiceService,
  FlagType,
  RunCommandRequest,
  RunCommandResponse,
} from "./gen/plugwire/v1/command";
import {
  Decision,
  FailurePolicy,
  HandleEventResponse,
  HookMode,
  HookServiceServer,
  HookServiceService,
} from "./gen/plugwire/v1/hook";
import {
  HandshakeResponse,
  PluginServiceServer,
  PluginServiceService,
} from "./gen/plugwire/v1/plugin";
import { Tool, ToolServiceServer, ToolServiceService } from "./gen/plugwire/v1/tool";

const NAME = "echo-node";
const VERSION = "0.1.0";
const CHUNK = 64 * 1024;
const HOOK_PATTERN = "conformance.intercept";

type Schema = {
  type: "object";
  properties: Record<string, { type: "string" | "integer"; minimum?: number; maximum?: number }>;
  required?: string[];
  additionalProperties: false;
};

const TOOLS: Record<string, { description: string; schema: Schema }> = {
  echo: {
    description: "Returns the `text` argument unchanged",
    schema: {
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
      additionalProperties: false,
    },
  },
  sleep: {
    description: "Sleeps `ms` milliseconds; stops when cancelled (conformance fixture)",
    schema: {
      type: "object",
      properties: { ms: { type: "integer", minimum: 0, maximum: 60000 } },
      required: ["ms"],
      additionalProperties: false,
    },
  },
  stats: {
    description: "Sleeps in progress and sleeps cancelled (conformance fixture)",
    schema: { type: "object", properties: {}, additionalProperties: false },
  },
};

const COMMANDS: Command[] = [
  Command.fromPartial({ name: "cat", usage: "cat", short: "Copy standard input to standard output" }),
  Command.fromPartial({
    name: "exit",
    usage: "exit [--code N]",
    short: "Print to both streams and exit with --code (conformance fixture)",
    flags: [{ name: "code", type: FlagType.FLAG_TYPE_INT, description: "The exit code", defaultJson: "0" }],
  }),
];

class Invalid extends Error {}

/** The subset of JSON Schema these tools use, with PW-TOOL-5 messages. */
function checkArguments(schema: Schema, args: unknown): Record<string, unknown> {
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new Invalid(`arguments : expected a JSON object, saw ${JSON.stringify(args)}`);
  }
  const object = args as Record<string, unknown>;
  for (const name of schema.required ?? []) {
    if (!(name in object)) throw new Invalid(`arguments /${name}: "${name}" is a required property`);
  }
  for (const [name, value] of Object.entries(object)) {
    const rule = schema.properties[name];
    if (!rule) throw new Invalid(`arguments /${name}: unknown property "${name}"`);
    if (rule.type === "string" && typeof value !== "string") {
      throw new Invalid(`arguments /${name}: expected a string, saw ${JSON.stringify(value)}`);
    }
    if (rule.type === "integer") {
      if (typeof value !== "number" || !Number.isInteger(value)) {
        throw new Invalid(`arguments /${name}: expected an integer, saw ${JSON.stringify(value)}`);
      }
      if (value < (rule.minimum ?? value) || value > (rule.maximum ?? value)) {
        throw new Invalid(`arguments /${name}: expected ${rule.minimum} to ${rule.maximum}, saw ${value}`);
      }
    }
  }
  return object;
}

/** Counts sleeps in progress and sleeps stopped by cancellation. */
const sleeps = { sleeping: 0, cancelled: 0 };

/** Sleeps `ms`, or less when the call is cancelled or out of time. */
function sleep(ms: number, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<boolean> {
  sleeps.sleeping++;
  return new Promise((resolve) => {
    const finish = (completed: boolean) => {
      clearTimeout(timer);
      call.removeListener("cancelled", onCancel);
      sleeps.sleeping--;
      if (!completed) sleeps.cancelled++;
      resolve(completed);
    };
    const onCancel = () => finish(false);
    const timer = setTimeout(() => finish(true), ms);
    if (call.cancelled) finish(false);
    else call.on("cancelled", onCancel);
  });
}

function plugin(lifecycle: Lifecycle, version: number): PluginServiceServer {
  let configured = false;
  return {
    handshake(call, callback) {
      if (call.request.protocolVersion !== version) {
        return callback({
          code: grpc.status.FAILED_PRECONDITION,
          details: `protocol version ${call.request.protocolVersion} differs from the version printed (${version})`,
        });
      }
      callback(
        null,
        HandshakeResponse.fromPartial({
          plugin: { name: NAME, version: VERSION, description: "Echo tools, in TypeScript" },
          sdk: { name: "handwritten", version: `node-grpc-js` },
          features: ["conformance"],
          capabilities: {
            tools: Object.keys(TOOLS),
            commands: COMMANDS.map((c) => c.name),
            hooks: [
              {
                pattern: HOOK_PATTERN,
                mode: HookMode.HOOK_MODE_INTERCEPT,
                failurePolicy: FailurePolicy.FAILURE_POLICY_OPEN,
              },
            ],
          },
        }),
      );
    },
    configure(call, callback) {
      const text = call.request.configJson.trim() || "{}";
      let config: unknown;
      try {
        config = JSON.parse(text);
      } catch (e) {
        return callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `config : expected a JSON object, the text is not JSON: ${(e as Error).message}`,
        });
      }
      if (typeof config !== "object" || config === null || Array.isArray(config)) {
        return callback({ code: grpc.status.INVALID_ARGUMENT, details: `config : expected a JSON object, saw ${text}` });
      }
      if (configured) {
        return callback({
          code: grpc.status.FAILED_PRECONDITION,
          details: "the plugin is already configured; Configure is called once",
        });
      }
      configured = true;
      callback(null, {});
    },
    shutdown(call, callback) {
      const grace = call.request.grace;
      const graceMs = grace ? grace.seconds * 1000 + grace.nanos / 1e6 : 5000;
      callback(null, {});
      lifecycle.stop(graceMs);
    },
  };
}

const tools: ToolServiceServer = {
  listTools(_call, callback) {
    callback(null, {
      tools: Object.entries(TOOLS).map(([name, tool]) =>
        Tool.fromPartial({
          name,
          description: tool.description,
          inputSchemaJson: JSON.stringify(tool.schema),
          annotations: { readOnly: true },
        }),
      ),
    });
  },
  async callTool(call, callback) {
    const { name, argumentsJson } = call.request;
    const tool = TOOLS[name];
    if (!tool) {
      return callback({
        code: grpc.status.NOT_FOUND,
        details: `no tool "${name}"; this plugin has ${Object.keys(TOOLS).join(", ")}`,
      });
    }
    let args: Record<string, unknown>;
    try {
      args = checkArguments(tool.schema, JSON.parse(argumentsJson || "{}"));
    } catch (e) {
      return callback({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
    }
    let content: unknown;
    if (name === "echo") {
      content = args.text;
    } else if (name === "sleep") {
      if (!(await sleep(args.ms as number, call))) {
        return callback({ code: grpc.status.CANCELLED, details: "the sleep was cancelled" });
      }
      content = { slept_ms: args.ms };
    } else {
      content = { sleeping: sleeps.sleeping, cancelled: sleeps.cancelled };
    }
    callback(null, { result: { isError: false, contentJson: JSON.stringify(content) } });
  },
  callToolStream(call) {
    call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "tool.progress is not offered" });
  },
};

const commands: CommandServiceServer = {
  listCommands(_call, callback) {
    callback(null, { commands: COMMANDS });
  },
  runCommand(call) {
    let started = false;
    let done = false;
    const send = (message: Partial<RunCommandResponse>) => call.write(RunCommandResponse.fromPartial(message));
    // PW-CMD-7: exactly one exit, after all output, then the end.
    const finish = (code: number) => {
      if (done) return;
      done = true;
      send({ exit: { code } });
      call.end();
    };
    call.on("data", (request: RunCommandRequest) => {
      if (done) return;
      if (!started) {
        if (!request.start) {
          return call.emit("error", {
            code: grpc.status.INVALID_ARGUMENT,
            details: "the first RunCommand message must be `start`",
          });
        }
        started = true;
        const { command, flagsJson } = request.start;
        if (command === "exit") {
          const flags = JSON.parse(flagsJson || "{}") as { code?: number };
          send({ stdout: Buffer.from("out\n") });
          send({ stderr: Buffer.from("err\n") });
          finish(flags.code ?? 0);
        } else if (command !== "cat") {
          call.emit("error", { code: grpc.status.NOT_FOUND, details: `no command "${command}"` });
        }
        return;
      }
      // cat: copy each chunk as it arrives (PW-CMD-6) until stdin_close or
      // a half-close (PW-CMD-5).
      if (request.stdin) {
        for (let i = 0; i < request.stdin.length; i += CHUNK) {
          send({ stdout: request.stdin.subarray(i, i + CHUNK) });
        }
      } else if (request.stdinClose) {
        finish(0);
      }
    });
    call.on("end", () => {
      if (started) finish(0);
    });
  },
};

const hooks: HookServiceServer = {
  async handleEvent(call, callback) {
    const continue_ = HandleEventResponse.fromPartial({ decision: Decision.DECISION_CONTINUE });
    const event = call.request.event;
    if (!event || event.name !== HOOK_PATTERN) return callback(null, continue_); // PW-HOOK-6
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(event.payloadJson || "{}");
    } catch {
      return callback(null, continue_);
    }
    if (typeof payload.sleep_ms === "number") {
      if (!(await sleep(Math.min(payload.sleep_ms, 60000), call))) {
        return callback({ code: grpc.status.CANCELLED, details: "the delivery was cancelled" });
      }
    }
    if (payload.decision === "modify") {
      return callback(
        null,
        HandleEventResponse.fromPartial({
          decision: Decision.DECISION_MODIFY,
          payloadJson: JSON.stringify({ ...payload, modified: true }),
        }),
      );
    }
    if (payload.decision === "deny") {
      return callback(
        null,
        HandleEventResponse.fromPartial({
          decision: Decision.DECISION_DENY,
          reason: typeof payload.reason === "string" && payload.reason ? payload.reason : "denied by the conformance fixture",
        }),
      );
    }
    callback(null, continue_);
  },
};

serve((server, lifecycle, version) => {
  server.addService(PluginServiceService, plugin(lifecycle, version));
  server.addService(ToolServiceService, tools);
  server.addService(CommandServiceService, commands);
  server.addService(HookServiceService, hooks);
});
