// The SDK through a real socket: schemas, validation with pointers,
// results, failures, progress, deadlines, commands, hooks, configuration.

import assert from "node:assert/strict";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { ConfigError, Decision, Plugin, ToolError, z } from "../src/index";
import { Decision as DecisionKind, FailurePolicy, HookMode } from "../src/gen/plugwire/v1/hook";
import { ToolServiceClient } from "../src/gen/plugwire/v1/tool";
import { TestHost } from "../src/testing";

const plugin = new Plugin({ name: "sdk-test", version: "1.2.3", description: "Tests the SDK" })
  .tool(
    "greet",
    { description: "Greets someone", input: z.strictObject({ name: z.string().describe("Who"), times: z.number().int().min(1).default(1) }), readOnly: true },
    async ({ name, times }) => Array(times).fill(`hello, ${name}!`).join(" "),
  )
  .tool(
    "literal",
    { description: "A literal schema", input: { type: "object", properties: { n: { type: "integer", minimum: 0 } }, required: ["n"], additionalProperties: false } },
    async (args) => (args.n as number) * 2,
  )
  .tool("refuse", { description: "Fails as tools do", input: z.strictObject({ path: z.string() }) }, async ({ path }) => {
    throw new ToolError(`no such file: ${path}`);
  })
  .tool("crash", { description: "Has a bug", input: z.strictObject({}) }, async () => {
    throw new TypeError("oops");
  })
  .tool("count", { description: "Reports progress", input: z.strictObject({ steps: z.number().int() }) }, async ({ steps }, cx) => {
    for (let i = 1; i <= steps; i++) {
      cx.progress(i, steps, `step ${i}`);
      cx.progress(i); // not increasing: dropped
    }
    return { done: steps, hasDeadline: cx.timeRemaining() !== undefined };
  })
  .tool("wait", { description: "Waits until cancelled", input: z.strictObject({}) }, async (_args, cx) => {
    await new Promise((resolve) => cx.signal.addEventListener("abort", resolve));
    return "stopped";
  })
  .command(
    "shout",
    { short: "Upper-cases stdin", flags: { times: { type: "int", default: 1, short: "n" } }, args: [{ name: "words", variadic: true }] },
    async (cx) => {
      const text = await cx.stdin.text();
      cx.stdout.write(text.toUpperCase().repeat(cx.flags.times));
      cx.stderr.print(`args: ${cx.args.join(" ")}`);
      return 3;
    },
  )
  .hook("session.*", { intercept: true, priority: 5, failClosed: true }, async (event) => {
    const payload = event.payload as { user?: string };
    if (payload.user === "mallory") return Decision.deny("mallory may not start sessions");
    if (payload.user === "ada") return Decision.modify({ ...payload, admin: true });
  })
  .onConfigure((config) => {
    if (config.retries !== undefined && typeof config.retries !== "number") {
      throw new ConfigError("/retries", `expected an integer, saw ${JSON.stringify(config.retries)}`);
    }
  });

function rpcError(e: unknown): grpc.ServiceError {
  assert.ok(e instanceof Error && "code" in e, `expected a ServiceError, got ${e}`);
  return e as grpc.ServiceError;
}

test("schemas come from zod, and calls return JSON results", async () => {
  const host = await TestHost.start(plugin);
  try {
    const tools = Object.fromEntries((await host.listTools()).map((t) => [t.name, t]));
    const schema = JSON.parse(tools.greet.inputSchemaJson);
    assert.deepEqual(schema.required, ["name"]);
    assert.equal(schema.properties.name.description, "Who");
    assert.equal(schema.additionalProperties, false);
    assert.equal(tools.greet.annotations?.readOnly, true);
    assert.deepEqual(await host.callTool("greet", { name: "Ada", times: 2 }), { content: "hello, Ada! hello, Ada!", isError: false });
    assert.deepEqual(await host.callTool("greet", { name: "Ada" }), { content: "hello, Ada!", isError: false });
    assert.equal((await host.callTool("literal", { n: 4 })).content, 8);
  } finally {
    await host.close();
  }
});

test("bad arguments are refused naming the field", async () => {
  const host = await TestHost.start(plugin);
  const cases: [string, unknown, string][] = [
    ["greet", {}, 'arguments /name: "name" is a required property'],
    ["greet", { name: 3 }, "arguments /name: "],
    ["greet", { name: "a", loud: true }, 'arguments /loud: unknown property "loud"'],
    ["greet", "[1]", "arguments: expected a JSON object, saw [1]"],
    ["greet", "{", "arguments: expected a JSON object, the text is not JSON"],
    ["literal", { n: -1 }, "arguments /n: must be >= 0"],
    ["literal", {}, 'arguments /n: "n" is a required property'],
    ["literal", { n: 1, m: 2 }, 'arguments /m: unknown property "m"'],
  ];
  try {
    for (const [tool, args, message] of cases) {
      const e = rpcError(await host.callTool(tool, args).then(() => undefined, (e) => e));
      assert.equal(e.code, grpc.status.INVALID_ARGUMENT, `${tool} ${JSON.stringify(args)}`);
      assert.ok(e.details.startsWith(message), `${tool} ${JSON.stringify(args)}: ${e.details}`);
    }
    const e = rpcError(await host.callTool("nope", {}).then(() => undefined, (e) => e));
    assert.equal(e.code, grpc.status.NOT_FOUND);
    assert.match(e.details, /greet/);
  } finally {
    await host.close();
  }
});

test("arguments the host marked validated skip only the schema check", async () => {
  const host = await TestHost.start(plugin);
  const client = host.client(ToolServiceClient);
  const call = (mark: string, name: string, argumentsJson: string) => {
    const metadata = new grpc.Metadata();
    metadata.set("plugwire-arguments-validated", mark);
    return new Promise<{ err: grpc.ServiceError | null; contentJson?: string }>((resolve) =>
      client.callTool({ name, argumentsJson }, metadata, (err, r) => resolve({ err, contentJson: r?.result?.contentJson })),
    );
  };
  try {
    // Against the schema (minimum 0): only a skipped check lets it through.
    assert.deepEqual(await call("1", "literal", '{"n":-1}'), { err: null, contentJson: "-2" });
    // zod still parses what it hands the handler.
    assert.equal((await call("1", "greet", '{"name":3}')).err?.code, grpc.status.INVALID_ARGUMENT);
    assert.ok((await call("1", "literal", "[1]")).err?.details.startsWith("arguments: expected a JSON object, saw [1]"));
    assert.ok((await call("yes", "literal", '{"n":-1}')).err?.details.startsWith("arguments /n: must be >= 0"));
  } finally {
    await host.close();
  }
});

test("failures are results, not protocol errors", async () => {
  const host = await TestHost.start(plugin);
  try {
    assert.deepEqual(await host.callTool("refuse", { path: "a.txt" }), { content: "no such file: a.txt", isError: true });
    const crash = await host.callTool("crash", {});
    assert.equal(crash.isError, true);
    assert.match(String(crash.content), /TypeError: oops/);
  } finally {
    await host.close();
  }
});

test("progress streams and only increases; deadlines abort the work", async () => {
  const host = await TestHost.start(plugin);
  try {
    const { progress, outcome } = await host.callToolStream("count", { steps: 3 });
    assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3]);
    assert.equal(progress[0].total, 3);
    assert.deepEqual(outcome.content, { done: 3, hasDeadline: true });
    assert.ok(host.handshake?.features.includes("tool.progress"));
    const e = rpcError(await host.callTool("wait", {}, 200).then(() => undefined, (e) => e));
    assert.equal(e.code, grpc.status.DEADLINE_EXCEEDED);
  } finally {
    await host.close();
  }
});

test("the handshake declares everything", async () => {
  const host = await TestHost.start(plugin);
  try {
    const h = host.handshake!;
    assert.deepEqual([h.plugin?.name, h.plugin?.version, h.sdk?.name], ["sdk-test", "1.2.3", "plugwire-node"]);
    assert.deepEqual(h.capabilities?.commands, ["shout"]);
    const sub = h.capabilities!.hooks[0];
    assert.deepEqual([sub.pattern, sub.mode, sub.priority, sub.failurePolicy], ["session.*", HookMode.HOOK_MODE_INTERCEPT, 5, FailurePolicy.FAILURE_POLICY_CLOSED]);
  } finally {
    await host.close();
  }
});

test("commands get flags, args and stdin", async () => {
  const host = await TestHost.start(plugin);
  try {
    assert.deepEqual(await host.runCommand("shout", { times: 2 }, ["a", "b"], "hi "), { stdout: "HI HI ", stderr: "args: a b\n", code: 3 });
  } finally {
    await host.close();
  }
});

test("hooks continue, modify and deny", async () => {
  const host = await TestHost.start(plugin);
  try {
    const denied = await host.emit("session.start", { user: "mallory" });
    assert.deepEqual([denied.decision, denied.reason], [DecisionKind.DECISION_DENY, "mallory may not start sessions"]);
    const modified = await host.emit("session.start", { user: "ada" });
    assert.equal(modified.decision, DecisionKind.DECISION_MODIFY);
    assert.equal(JSON.parse(modified.payloadJson).admin, true);
    assert.equal((await host.emit("session.start", { user: "bob" })).decision, DecisionKind.DECISION_CONTINUE);
    assert.equal((await host.emit("other", { user: "mallory" })).decision, DecisionKind.DECISION_CONTINUE);
  } finally {
    await host.close();
  }
});

test("configuration refusals name the field; calls before Configure fail precondition", async () => {
  const e = rpcError(await TestHost.start(plugin, { retries: "three" }).then(() => undefined, (e) => e));
  assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(e.details, 'config /retries: expected an integer, saw "three"');
  const host = await TestHost.startUnconfigured(plugin);
  try {
    const client = host.client(ToolServiceClient);
    const early = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.callTool({ name: "greet", argumentsJson: '{"name":"a"}' }, (err) => resolve(err)),
    );
    assert.equal(early?.code, grpc.status.FAILED_PRECONDITION);
  } finally {
    await host.close();
  }
});

test("declarations are checked when made", () => {
  const p = new Plugin({ name: "decl", version: "0.1.0" });
  assert.throws(() => p.command("add", { parent: "remote" }, async () => 0), /parent "remote" must be declared first/);
  assert.throws(() => new Plugin({ name: "Bad_Name", version: "0.1.0" }), /lower-case/);
  assert.throws(() => p.tool("bad name", { description: "", input: z.object({}) }, async () => 0), /expected 1 to 64/);
});

test("the host client hands out the application's services it was offered", async () => {
  const { hostClient, HostUnavailable } = await import("../src/host");
  const host = hostClient("/nonexistent/host.sock", true, ["acme.session.v1.Sessions"]);
  assert.deepEqual(host.services, ["acme.session.v1.Sessions"]);
  assert.deepEqual(host.forCall("chain").services, host.services);
  const sessions = host.service("acme.session.v1.Sessions", ToolServiceClient);
  assert.equal(sessions.getChannel(), host.channel);
  assert.throws(() => host.service("acme.session.v1.Other", ToolServiceClient), HostUnavailable);
  assert.throws(() => hostClient(undefined, true).channel, HostUnavailable);
  sessions.close();
  host.channel.close();
});
