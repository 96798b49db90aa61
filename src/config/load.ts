// Reading the config file. JSON.parse decides what the file means; a small scanner
// of our own finds where a broken file breaks (V8's messages quote the file, which
// may hold a token, and some omit the position) and catches keys given twice, which
// JSON.parse would silently resolve to the last one.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { WarrenConfig } from './schema.js';
import { formatKeyPath, fsReason, printable } from './messages.js';
import { validateConfig } from './validate.js';

export function defaultConfigPath(): string {
  return process.env.WARREN_CONFIG || '/etc/warren/config.json';
}

export function loadConfig(file: string): WarrenConfig {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(abs);
  } catch (err) {
    throw new ConfigError(null, `cannot read config file ${printable(abs)}: ${fsReason(err)}`, err);
  }
  let text: string;
  try {
    // fatal: a mangled byte is an error, not a U+FFFD in a host name; also drops a BOM.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ConfigError(null, `config file ${printable(abs)} is not valid UTF-8`, err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // No cause attached: V8's message quotes the file, and loggers print causes.
    const where = text.trim() === '' ? { offset: 0, problem: 'the file is empty' } : scan(text).error;
    throw new ConfigError(null, where === undefined
      ? `config file ${printable(abs)} is not valid JSON`
      : `config file ${printable(abs)} is not valid JSON: ${where.problem} at ${lineColumn(text, where.offset)}`);
  }
  const dup = scan(text).duplicate;
  if (dup !== undefined) {
    throw new ConfigError(formatKeyPath(dup.path), `key given twice (at ${lineColumn(text, dup.offset)}); JSON would keep only the last one`);
  }
  return validateConfig(raw, { baseDir: path.dirname(abs), path: abs });
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

interface ScanResult {
  error?: { offset: number; problem: string };
  duplicate?: { path: (string | number)[]; offset: number };
}

class SyntaxAt {
  constructor(readonly offset: number, readonly problem: string) {}
}

/** Walks JSON text as JSON.parse would; reports the first syntax error and the first duplicate key. */
function scan(s: string): ScanResult {
  let i = 0;
  let duplicate: ScanResult['duplicate'];
  const stop = (problem: string): never => {
    throw new SyntaxAt(i, s[i] === '/' && (s[i + 1] === '/' || s[i + 1] === '*') ? 'JSON allows no comments' : problem);
  };
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const str = () => {
    const start = i++;
    for (;;) {
      const c = s[i];
      if (c === undefined) {
        i = start;
        stop('string never closed');
      } else if (c === '"') {
        i++;
        return JSON.parse(s.slice(start, i)) as string;
      } else if (c === '\\') {
        const e = s[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) i += 6;
        else stop('invalid escape in string');
      } else if (c < ' ') {
        stop('control character in string (write it escaped, e.g. \\n)');
      } else {
        i++;
      }
    }
  };
  const value = (at: (string | number)[]): void => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (s[i] === '}') {
        i++;
        return;
      }
      const seen = new Set<string>();
      for (;;) {
        ws();
        if (s[i] === '}') stop('comma before "}" (JSON allows no trailing comma)');
        if (s[i] === "'") stop('keys need double quotes');
        if (s[i] !== '"') stop('expected a key in double quotes');
        const keyAt = i;
        const key = str();
        if (seen.has(key) && duplicate === undefined) duplicate = { path: [...at, key], offset: keyAt };
        seen.add(key);
        ws();
        if (s[i] !== ':') stop('expected ":" after the key');
        i++;
        value([...at, key]);
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return;
        }
        stop('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        ws();
        if (s[i] === ']') stop('comma before "]" (JSON allows no trailing comma)');
        value([...at, n]);
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return;
        }
        stop('expected "," or "]"');
      }
    }
    if (c === '"') {
      str();
      return;
    }
    if (c === "'") stop('strings need double quotes');
    const num = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    num.lastIndex = i;
    if (c !== undefined && /[-0-9]/.test(c)) {
      if (!num.test(s)) stop('invalid number');
      i = num.lastIndex;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (s.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    stop(c === undefined ? 'unexpected end of file, expected a value' : 'expected a value');
  };
  try {
    value([]);
    ws();
    if (i < s.length) stop('unexpected text after the JSON value');
    return { duplicate };
  } catch (err) {
    if (err instanceof SyntaxAt) return { error: { offset: err.offset, problem: err.problem }, duplicate };
    // Nesting deeper than the stack: no position, but still a ConfigError upstream.
    return {};
  }
}
