// The {{name}} plugin: one tool and one command.

import { Plugin, z } from "@plugwire/sdk";

new Plugin({ name: "{{name}}", version: "0.1.0", description: "Greets people and shouts" })
  .tool(
    "greet",
    { description: "Greets someone by name", input: z.strictObject({ name: z.string().describe("Who to greet") }), readOnly: true },
    async ({ name }) => `hello, ${name}!`,
  )
  .command("shout", { short: "Upper-case standard input" }, async (cx) => {
    cx.stdout.write((await cx.stdin.text()).toUpperCase());
    return 0;
  })
  .serve();
