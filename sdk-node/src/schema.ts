// A tool's arguments: described by a zod schema (whose JSON Schema zod
// makes) or by a literal JSON Schema (checked with ajv), and checked with
// errors that name the field as a JSON pointer (PW-TOOL-5).

import Ajv2020 from "ajv/dist/2020";
import { z } from "zod";

/** A JSON Schema, as a plain object. */
export type JsonSchema = { [key: string]: unknown };

/** The first problem with some arguments: a JSON pointer and what is wrong. */
export interface Problem {
  pointer: string;
  problem: string;
}

/** How one tool's arguments are described and checked. */
export interface Arguments<T> {
  schema: JsonSchema;
  /** The handler's value, or the first problem. With `validated` (the
   * host checked the text against `schema`, PW-TOOL-16) a check that only
   * repeats the host's may be skipped; decoding still refuses. */
  parse(text: string, validated?: boolean): { value: T } | { problem: Problem };
}

/** PW-TOOL-5's form: `arguments /x: problem`, or `arguments: problem` for
 * the whole document. */
export function located(what: string, pointer: string, problem: string): string {
  return pointer ? `${what} ${pointer}: ${problem}` : `${what}: ${problem}`;
}

/** `["items", 0, "a/b"]` → `/items/0/a~1b`; `""` for the whole document. */
export function pointer(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

function jsonObject(text: string): { value: Record<string, unknown> } | { problem: Problem } {
  let value: unknown;
  try {
    value = JSON.parse(text || "{}");
  } catch (e) {
    return { problem: { pointer: "", problem: `expected a JSON object, the text is not JSON: ${(e as Error).message}` } };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: { pointer: "", problem: `expected a JSON object, saw ${short(value)}` } };
  }
  return { value: value as Record<string, unknown> };
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 80 ? text : text.slice(0, 77) + "...";
}

/** Arguments described by a zod schema; the handler gets the parsed value
 * (defaults and transforms applied), so zod parses even what the host
 * validated. */
export function fromZod<S extends z.ZodType>(schema: S): Arguments<z.output<S>> {
  const json = z.toJSONSchema(schema, { io: "input" }) as JsonSchema;
  delete json.$schema;
  return {
    schema: json,
    parse(text) {
      const object = jsonObject(text);
      if ("problem" in object) return object;
      const result = schema.safeParse(object.value);
      if (result.success) return { value: result.data };
      const issue = result.error.issues[0];
      const field = issue.path.length ? String(issue.path[issue.path.length - 1]) : "";
      let problem = issue.message;
      if (issue.code === "invalid_type" && issue.input === undefined) {
        problem = `"${field}" is a required property`;
      } else if (issue.code === "unrecognized_keys") {
        return { problem: { pointer: pointer([...issue.path, issue.keys[0]]), problem: `unknown property "${issue.keys[0]}"` } };
      }
      return { problem: { pointer: pointer(issue.path), problem } };
    },
  };
}

const ajv = new Ajv2020({ allErrors: false, strict: false });

/** Arguments described by a literal JSON Schema; the handler gets the object. */
export function fromJsonSchema(schema: JsonSchema): Arguments<Record<string, unknown>> {
  const validate = ajv.compile(schema);
  return {
    schema,
    parse(text, validated) {
      const object = jsonObject(text);
      if ("problem" in object || validated) return object;
      if (validate(object.value)) return object;
      const error = validate.errors![0];
      const missing = error.keyword === "required" ? String(error.params.missingProperty) : undefined;
      const extra = error.keyword === "additionalProperties" ? String(error.params.additionalProperty) : undefined;
      if (missing) return { problem: { pointer: `${error.instancePath}/${missing}`, problem: `"${missing}" is a required property` } };
      if (extra) return { problem: { pointer: `${error.instancePath}/${extra}`, problem: `unknown property "${extra}"` } };
      return { problem: { pointer: error.instancePath, problem: `${error.message ?? "invalid"}` } };
    },
  };
}

/** Whether `value` is a zod schema rather than a literal JSON Schema. */
export function isZod(value: unknown): value is z.ZodType {
  return value instanceof z.ZodType;
}
