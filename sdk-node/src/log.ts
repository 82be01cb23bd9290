// Logs the host understands (PW-LOG-2): one hclog-style JSON object per
// line on stderr, with the fields attached.

export type Level = "trace" | "debug" | "info" | "warn" | "error";

/** One hclog line. */
export function hclogLine(level: Level, message: string, fields: Record<string, unknown> = {}, now = new Date()): string {
  return JSON.stringify({ "@level": level, "@message": message, "@timestamp": now.toISOString(), ...fields }) + "\n";
}

function write(level: Level, message: string, fields?: Record<string, unknown>): void {
  process.stderr.write(hclogLine(level, message, fields));
}

/** The plugin's logger: `log.info("saved", { key })` becomes a structured
 * record in the host's log, with the field. */
export const log = {
  trace: (message: string, fields?: Record<string, unknown>) => write("trace", message, fields),
  debug: (message: string, fields?: Record<string, unknown>) => write("debug", message, fields),
  info: (message: string, fields?: Record<string, unknown>) => write("info", message, fields),
  warn: (message: string, fields?: Record<string, unknown>) => write("warn", message, fields),
  error: (message: string, fields?: Record<string, unknown>) => write("error", message, fields),
};
