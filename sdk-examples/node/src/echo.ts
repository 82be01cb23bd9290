// The echo plugin in TypeScript, on the plugwire SDK (../../sdk-node): the
// echo tool, the command cat, and the conformance fixture profile of
// docs/conformance.md (the tools sleep and stats, the command exit, the hook
// conformance.intercept).

import { Decision, Plugin, z } from "@plugwire/sdk";

const sleeps = { sleeping: 0, cancelled: 0 };

/** Sleeps `ms`, counted in `sleeps`; false when `signal` stopped it first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  sleeps.sleeping++;
  return new Promise<boolean>((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      sleeps.cancelled++;
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", stop, { once: true });
  }).finally(() => sleeps.sleeping--);
}

new Plugin({ name: "echo-node", version: "0.1.0", description: "Echo tools and the conformance fixture profile, in TypeScript" })
  .feature("conformance")
  .tool(
    "echo",
    { description: "Returns the `text` argument unchanged", input: z.strictObject({ text: z.string().describe("The text to return") }), readOnly: true, idempotent: true },
    async ({ text }) => text,
  )
  .tool(
    "sleep",
    { description: "Sleeps `ms` milliseconds; stops when cancelled (conformance fixture)", input: z.strictObject({ ms: z.number().int().min(0).max(60000) }), readOnly: true },
    async ({ ms }, cx) => ((await sleep(ms, cx.signal)) ? { slept_ms: ms } : "cancelled"),
  )
  .tool("stats", { description: "Sleeps in progress and sleeps cancelled (conformance fixture)", input: z.strictObject({}), readOnly: true }, async () => ({ ...sleeps }))
  .command("cat", { short: "Copy standard input to standard output", usage: "cat" }, async (cx) => {
    for await (const chunk of cx.stdin) cx.stdout.write(chunk); // streamed as it arrives (PW-CMD-6)
    return 0;
  })
  .command(
    "exit",
    { short: "Print to both streams and exit with --code (conformance fixture)", usage: "exit [--code N]", flags: { code: { type: "int", default: 0, description: "The exit code" } } },
    async (cx) => {
      cx.stdout.write("out\n");
      cx.stderr.write("err\n");
      return cx.flags.code;
    },
  )
  .hook("conformance.intercept", { intercept: true }, async (event, cx) => {
    const payload = (typeof event.payload === "object" && event.payload !== null ? event.payload : {}) as Record<string, unknown>;
    if (typeof payload.sleep_ms === "number") {
      await sleep(Math.min(payload.sleep_ms, 60000), cx.signal);
    }
    if (payload.decision === "modify") return Decision.modify({ ...payload, modified: true });
    if (payload.decision === "deny") return Decision.deny(typeof payload.reason === "string" && payload.reason ? payload.reason : "denied by the conformance fixture");
  })
  .serve();
