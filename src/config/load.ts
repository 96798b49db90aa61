// Reading the config file: bytes, UTF-8, JSONC (jsonc.ts), then the checks (validate.ts).
// checkConfigFile tells every problem at once (`warren check`); loadConfig throws one
// ConfigError telling the first and how many more there are. A syntax error is one
// problem: nothing after it can be read.
import fs from 'node:fs';
import path from 'node:path';
import type { WarrenConfig } from './schema.js';
import { parseJsonc } from './jsonc.js';
import { configError, formatKeyPath, fsReason, printable, type ConfigProblem } from './messages.js';
import { checkConfig } from './validate.js';

export function defaultConfigPath(): string {
  return process.env.WARREN_CONFIG || '/etc/warren/config.json';
}

export interface ConfigFileCheck {
  /** Non-null only when problems is empty. */
  config: WarrenConfig | null;
  problems: ConfigProblem[];
  /** The file's absolute path. */
  path: string;
}

/** Every problem with a config file, in the order loadConfig would tell them; the config when there is none. */
export function checkConfigFile(file: string): ConfigFileCheck {
  const abs = path.resolve(file);
  const refused = (message: string): ConfigFileCheck => ({ config: null, problems: [{ key: null, message }], path: abs });
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(abs);
  } catch (err) {
    return refused(`cannot read config file ${printable(abs)}: ${fsReason(err)}`);
  }
  let text: string;
  try {
    // fatal: a mangled byte is an error, not a U+FFFD in a host name; also drops a BOM.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return refused(`config file ${printable(abs)} is not valid UTF-8`);
  }
  const parsed = parseJsonc(text);
  if ('error' in parsed) {
    const where = parsed.error;
    return refused(where === null
      ? `config file ${printable(abs)} is not valid JSON`
      : `config file ${printable(abs)} is not valid JSON: ${where.problem} at ${lineColumn(text, where.offset)}`);
  }
  const twice: ConfigProblem[] = parsed.duplicates.map((d) => ({
    key: formatKeyPath(d.path), message: `key given twice (at ${lineColumn(text, d.offset)}); JSON would keep only the last one`,
  }));
  const { config, problems } = checkConfig(parsed.value, { baseDir: path.dirname(abs), path: abs });
  const all = [...twice, ...problems];
  return { config: all.length === 0 ? config : null, problems: all, path: abs };
}

/** The config in a file, or a ConfigError telling its first problem (and how many more there are). */
export function loadConfig(file: string): WarrenConfig {
  const { config, problems } = checkConfigFile(file);
  if (config === null) throw configError(problems);
  return config;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}
