// Commands: CLI subcommands the host offers as its own, with typed flags,
// positional arguments, streamed stdio and an exit code (docs/protocol.md
// section 6).

import { FlagType } from "./gen/plugwire/v1/command";

/** PW-CMD-6: output goes in chunks of at most 64 KiB. */
export const CHUNK = 64 * 1024;

/** A flag's declaration; the host parses and checks it. */
export type FlagSpec =
  | { type: "bool"; default?: boolean; short?: string; description?: string; required?: boolean }
  | { type: "string"; default?: string; short?: string; description?: string; required?: boolean }
  | { type: "int"; default?: number; short?: string; description?: string; required?: boolean }
  | { type: "float"; default?: number; short?: string; description?: string; required?: boolean }
  | { type: "strings"; default?: string[]; short?: string; description?: string; required?: boolean };

type FlagValue<F extends FlagSpec> = F["type"] extends "bool"
  ? boolean
  : F["type"] extends "string"
    ? string
    : F["type"] extends "strings"
      ? string[]
      : number;

/** The parsed flags of a command: a flag with a default or `required` is
 * always there; the others may be absent. */
export type Flags<F extends Record<string, FlagSpec>> = {
  [K in keyof F]: F[K] extends { default: unknown } | { required: true } ? FlagValue<F[K]> : FlagValue<F[K]> | undefined;
};

export const FLAG_TYPES: Record<FlagSpec["type"], FlagType> = {
  bool: FlagType.FLAG_TYPE_BOOL,
  string: FlagType.FLAG_TYPE_STRING,
  int: FlagType.FLAG_TYPE_INT,
  float: FlagType.FLAG_TYPE_FLOAT,
  strings: FlagType.FLAG_TYPE_STRING_LIST,
};

/** A positional argument; only the last may be `variadic`. */
export interface ArgSpec {
  name: string;
  description?: string;
  required?: boolean;
  variadic?: boolean;
}

/** The command's standard input: `for await` its chunks, or `text()`; it
 * ends when the host closes it (PW-CMD-5). */
export class Stdin implements AsyncIterable<Buffer> {
  private chunks: (Buffer | null)[] = [];
  private waiting: ((chunk: Buffer | null) => void) | undefined;
  private ended = false;

  /** @internal */
  feed(chunk: Buffer | null): void {
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = undefined;
      wake(chunk);
    } else {
      this.chunks.push(chunk);
    }
  }

  private next(): Promise<Buffer | null> {
    if (this.chunks.length) return Promise.resolve(this.chunks.shift()!);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    while (!this.ended) {
      const chunk = await this.next();
      if (chunk === null) {
        this.ended = true;
        return;
      }
      yield chunk;
    }
  }

  /** Everything up to end-of-file, as UTF-8 text. */
  async text(): Promise<string> {
    const all: Buffer[] = [];
    for await (const chunk of this) all.push(chunk);
    return Buffer.concat(all).toString("utf8");
  }
}

/** Standard output or error, sent as it is written. */
export class Output {
  constructor(private readonly send: (chunk: Buffer) => void) {}

  write(data: string | Uint8Array): void {
    const raw = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
    for (let i = 0; i < raw.length; i += CHUNK) this.send(raw.subarray(i, i + CHUNK));
  }

  /** One line. */
  print(line: string): void {
    this.write(line + "\n");
  }
}

/** One run of a command. */
export interface CommandContext<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  command: string;
  flags: Flags<F>;
  args: string[];
  env: Record<string, string>;
  stdin: Stdin;
  stdout: Output;
  stderr: Output;
  config: Record<string, unknown>;
  /** Columns and rows, when stdout is a terminal. */
  terminal: { columns: number; rows: number } | undefined;
  /** Aborted when the host forwards Ctrl-C or SIGTERM, or cancels (PW-CMD-8). */
  signal: AbortSignal;
}
