// Checks parsed JSON against the config schema and fills in its defaults, noting every
// problem (cx.problems), each one message that names the key. A key with a problem is
// left out of the result and the walk goes on with the next key, so one run tells
// everything that is wrong; the result is used only when nothing is. It reads the schema as plain
// JSON Schema (the same text editors get), so what it enforces is what is published;
// only the wording comes from the schema's `loader` keyword, and only what JSON Schema
// cannot say comes from checks.ts. Values are shown in messages only where they cannot
// be secrets (numbers, enum values; strings never, except by a named check).
//
// Order matters, since loadConfig's error tells the first problem: an object's unknown
// keys come first, then its keys in the schema's order, except that "$" keys (they say how to
// read the rest) and the keys an `if` looks at (they decide what else is required) go
// first; a record's keys are all checked before any of its values.
import { CHECKS, HINTS, KEY_CHECKS, type CheckContext } from './checks.js';
import { parseDuration, DURATION_FORMS } from './durations.js';
import { closest, fail, got, problemAt, Refusal, typeName, type At } from './messages.js';
import type { Loader } from './schema.js';

/** The JSON Schema keywords the walker understands; a schema using any other is a mistake. */
export interface Node {
  type?: string;
  description?: string;
  default?: unknown;
  loader?: Loader;
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: boolean;
  patternProperties?: Record<string, Node>;
  propertyNames?: Node;
  minProperties?: number;
  if?: Node;
  then?: Node;
  else?: Node;
  items?: Node;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  patternErrorMessage?: string;
  allOf?: Node[];
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Node[];
  /** On an object: alternatives of `required` keys, exactly one of which must be met. */
  oneOf?: Node[];
}

/** Every keyword of Node, at run time: a test checks that the schema uses no other. */
export const UNDERSTOOD: Record<keyof Node, true> = {
  type: true, description: true, default: true, loader: true, properties: true, required: true, additionalProperties: true,
  patternProperties: true, propertyNames: true, minProperties: true, if: true, then: true, else: true, items: true, minItems: true,
  maxItems: true, minLength: true, maxLength: true, pattern: true, patternErrorMessage: true, allOf: true, minimum: true,
  maximum: true, enum: true, const: true, anyOf: true, oneOf: true,
};

type Obj = Record<string, unknown>;

/** A value whose check failed: its problem is noted and it is left out. */
const SKIPPED = Symbol('skipped');

/** Runs one key's check; a problem it finds is noted and the walk goes on. */
function attempt<T>(cx: CheckContext, check: () => T): T | typeof SKIPPED {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    cx.problems.push(err.problem);
    return SKIPPED;
  }
}

function note(cx: CheckContext, at: At, message: string): void {
  cx.problems.push(problemAt(at, message));
}

export function walk(node: Node, v: unknown, at: At, cx: CheckContext): unknown {
  if (node.loader?.duration) return duration(node, v, at);
  if (node.anyOf !== undefined) return union(node.anyOf, v, at, cx);
  if (node.enum !== undefined) return oneOf(node.enum, v, at);
  if (node.const !== undefined) {
    if (v !== node.const) fail(at, `must be ${JSON.stringify(node.const)} (got ${got(v, true)})`);
    return v;
  }
  switch (node.type) {
    case 'object': return node.patternProperties === undefined ? object(node, objectOf(v, at), at, cx) : record(node, v, at, cx);
    case 'array': return array(node, v, at, cx);
    case 'string': return string(node, v, at, cx);
    case 'integer': return integer(node, v, at);
    default: throw new Error(`config schema: the loader does not check type ${String(node.type)} (at ${at.join('.')})`);
  }
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(o: Obj, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

function objectOf(v: unknown, at: At): Obj {
  if (isObject(v)) return v;
  fail(at, at.length === 0 ? `the config must be a JSON object (got ${typeName(v)})` : `must be an object (got ${typeName(v)})`);
}

function object(node: Node, o: Obj, at: At, cx: CheckContext): Obj {
  const props = node.properties ?? {};
  const keys = Object.keys(props);
  if (node.additionalProperties === false) {
    for (const k of Object.keys(o)) {
      if (Object.hasOwn(props, k)) continue;
      const near = closest(k, keys);
      note(cx, [...at, k], near === null ? `unknown key (known keys here: ${keys.join(', ')})` : `unknown key; did you mean "${near}"?`);
    }
  }
  const required = new Set(node.required);
  const out: Obj = {};
  const take = (k: string): void => {
    const sub = props[k]!;
    const x = get(o, k);
    const exclusive = node.oneOf === undefined ? null : alternatives(node.oneOf, o, k);
    if (exclusive !== null) note(cx, [...at, exclusive.key], exclusive.message(sub));
    if (x !== undefined) {
      const value = attempt(cx, () => walk(sub, x, [...at, k], cx));
      if (value !== SKIPPED) out[k] = value;
    } else if (required.has(k)) note(cx, [...at, k], `required key is missing (${sub.loader?.missing ?? describe(sub)})`);
    else if (Object.hasOwn(sub, 'default')) out[k] = structuredClone(sub.default);
    // An absent object is an empty one: its own defaults fill it.
    else if (sub.type === 'object' && sub.patternProperties === undefined) out[k] = object(sub, {}, [...at, k], cx);
  };
  const first = [...keys.filter((k) => k.startsWith('$')), ...Object.keys(node.if?.properties ?? {})];
  first.forEach(take);
  if (node.if !== undefined) {
    // A key that failed is judged as written: a command transport with a bad argv still needs no host.
    for (const k of (matches(node.if, { ...o, ...out }) ? node.then : node.else)?.required ?? []) required.add(k);
  }
  keys.filter((k) => !first.includes(k)).forEach(take);
  // Keys in the schema's order, whatever order they were checked in.
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(out, k)).map((k) => [k, out[k]]));
}

/**
 * Keys of which exactly one must be given (oneOf of `required` lists, one key each):
 * told at the first alternative when none is given, at the second when both are.
 */
function alternatives(oneOf: Node[], o: Obj, k: string): { key: string; message: (sub: Node) => string } | null {
  const names = oneOf.map((m) => {
    if (m.required?.length !== 1 || Object.keys(m).length !== 1) throw new Error('config schema: an object\'s oneOf must list alternatives of one required key each');
    return m.required[0]!;
  });
  const i = names.indexOf(k);
  if (i < 0) return null;
  const given = names.filter((n) => get(o, n) !== undefined);
  if (given.length === 0 && i === 0) return { key: k, message: (sub) => `required key is missing (${sub.loader?.missing ?? describe(sub)})` };
  if (given.length > 1 && k === given[1]) return { key: k, message: () => `give ${given.map((n) => `"${n}"`).join(' or ')}, not both` };
  return null;
}

/** Whether checked values meet an `if`: only properties, required and const are used there. */
function matches(cond: Node, v: unknown): boolean {
  if (cond.const !== undefined) return v === cond.const;
  if (!isObject(v)) return cond.type !== 'object';
  if (!(cond.required ?? []).every((k) => Object.hasOwn(v, k))) return false;
  return Object.entries(cond.properties ?? {}).every(([k, sub]) => !Object.hasOwn(v, k) || matches(sub, v[k]));
}

/** An object whose keys are names the file chooses (workspaces): every name first, then every value. */
function record(node: Node, v: unknown, at: At, cx: CheckContext): Obj {
  const o = objectOf(v, at);
  const names = Object.keys(o);
  if (node.minProperties !== undefined && names.length < node.minProperties) fail(at, node.loader?.few ?? `must have at least ${node.minProperties} keys`);
  const keyCheck = node.loader?.keyCheck;
  const good = names.filter((name, i) => attempt(cx, () => {
    if (node.propertyNames !== undefined) text(node.propertyNames, name, [...at, name]);
    if (keyCheck !== undefined) KEY_CHECKS[keyCheck](name, names.slice(0, i), [...at, name], node.loader?.noun ?? 'name');
  }) !== SKIPPED);
  const [value, ...more] = Object.values(node.patternProperties ?? {});
  if (value === undefined || more.length > 0) throw new Error('config schema: a record needs exactly one value schema');
  // No prototype: a name is only ever a key here, never an inherited property.
  const out: Obj = Object.create(null);
  for (const name of good) {
    const x = attempt(cx, () => walk(value, o[name], [...at, name], cx));
    if (x !== SKIPPED) out[name] = x;
  }
  return out;
}

/** null, or one object of several told apart by a constant key (transport.kind). */
function union(members: Node[], v: unknown, at: At, cx: CheckContext): unknown {
  const others = members.filter((m) => m.type !== 'null');
  if (v === null && others.length < members.length) return null;
  if (others.length === 1) return walk(others[0]!, v, at, cx);
  const o = objectOf(v, at);
  const tag = Object.keys(others[0]?.properties ?? {}).find((k) => others.every((m) => m.properties?.[k]?.const !== undefined));
  if (tag === undefined) throw new Error(`config schema: the members of ${at.join('.')} share no constant key`);
  const values = others.map((m) => m.properties![tag]!.const);
  const either = values.map((c) => JSON.stringify(c)).join(' or ');
  const kind = get(o, tag);
  if (kind === undefined) fail([...at, tag], `required key is missing (${either})`);
  const member = others.find((m) => m.properties![tag]!.const === kind);
  if (member === undefined) fail([...at, tag], `must be ${either} (got ${got(kind, true)})`);
  return object(member, o, at, cx);
}

function oneOf(values: unknown[], v: unknown, at: At): unknown {
  if (values.includes(v)) return v;
  const near = typeof v === 'string' ? closest(v, values.map(String)) : null;
  fail(at, `must be one of ${values.join(', ')} (got ${got(v, true)})${near === null ? '' : `; did you mean "${near}"?`}`);
}

function array(node: Node, v: unknown, at: At, cx: CheckContext): unknown[] {
  if (!Array.isArray(v)) fail(at, `must be an array of ${node.loader?.expected ?? describe(node)} (got ${typeName(v)})`);
  if (node.maxItems !== undefined && v.length > node.maxItems) fail(at, `must list at most ${node.maxItems} ${node.loader?.noun ?? 'items'} (got ${v.length})`);
  if (node.minItems !== undefined && v.length < node.minItems) fail(at, node.loader?.few ?? `must list at least ${node.minItems} items`);
  const items = node.items;
  if (items === undefined) throw new Error('config schema: an array needs items');
  return v.map((x, i) => attempt(cx, () => walk(items, x, [...at, i], cx)));
}

function string(node: Node, v: unknown, at: At, cx: CheckContext): string {
  if (typeof v !== 'string') fail(at, `must be ${node.loader?.expected ?? describe(node)} (got ${typeName(v)})`);
  text(node, v, at);
  const check = node.loader?.check;
  return check === undefined ? v : CHECKS[check](v, at, cx);
}

/** A string's length and patterns, each pattern with its own message. */
function text(node: Node, s: string, at: At): void {
  if (node.minLength !== undefined && s.length < node.minLength) {
    fail(at, node.loader?.empty ?? (node.minLength === 1 ? 'must not be empty' : `must be at least ${node.minLength} characters (got ${s.length})`));
  }
  if (node.maxLength !== undefined && s.length > node.maxLength) fail(at, `must be at most ${node.maxLength} characters (got ${s.length})`);
  for (const rule of [node, ...(node.allOf ?? [])]) {
    if (rule.pattern === undefined || new RegExp(rule.pattern, 'u').test(s)) continue;
    const hint = node.loader?.hint === undefined ? '' : HINTS[node.loader.hint](s, at);
    fail(at, `${rule.patternErrorMessage ?? `must match ${rule.pattern}`}${hint}`);
  }
}

function integer(node: Node, v: unknown, at: At): number {
  const min = node.minimum ?? Number.MIN_SAFE_INTEGER;
  const max = node.maximum ?? Number.MAX_SAFE_INTEGER;
  const unit = node.loader?.unit;
  if (node.loader?.tooBig !== undefined && typeof v === 'number' && v > max) {
    fail(at, `must be at most ${max}${unit === undefined ? '' : ` ${unit}`}, ${node.loader.tooBig} (got ${v})`);
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    fail(at, `must be a whole number${unit === undefined ? '' : ` of ${unit}`} from ${min} to ${max} (got ${got(v, true)})`);
  }
  return v;
}

/** Milliseconds, from a number or a string like "30s"; the limits are the integer member's. */
function duration(node: Node, v: unknown, at: At): number {
  const limits: Node = { ...node.anyOf?.find((m) => m.type === 'integer'), loader: node.loader };
  if (typeof v !== 'string') return integer(limits, v, at);
  const ms = parseDuration(v);
  if (ms === null) fail(at, `must be ${DURATION_FORMS} (got ${got(v, true)})`);
  const min = limits.minimum ?? 0;
  const max = limits.maximum ?? Number.MAX_SAFE_INTEGER;
  if (ms > max && node.loader?.tooBig !== undefined) fail(at, `must be at most ${max} ms, ${node.loader.tooBig} (got ${got(v, true)})`);
  if (ms < min || ms > max) fail(at, `must be from ${min} ms to ${max} ms (got ${got(v, true)}, ${ms} ms)`);
  return ms;
}

/** The fallback words for a node the schema gives none for. */
function describe(node: Node): string {
  return node.type === undefined ? 'a valid value' : `${/^[aeiou]/.test(node.type) ? 'an' : 'a'} ${node.type}`;
}
