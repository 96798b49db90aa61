// Adds one workspace to a config file as a person would: the file's comments, order
// and layout kept (jsonc-parser's edits), the new file checked by the same loader the
// daemon uses before anything is written, and written atomically (a temporary file
// renamed over it), so a failed add leaves the old file as it was. A missing file is
// created, 0600 (a config may come to hold the gateway token).
import fs from 'node:fs';
import path from 'node:path';
import { applyEdits, modify } from 'jsonc-parser';
import { ConfigWriteError } from '../errors.js';
import { checkConfigFile } from './load.js';
import { parseJsonc } from './jsonc.js';
import type { WarrenConfig } from './schema.js';

export interface PreparedAdd {
  path: string;
  /** The config as it will be, loaded and checked. */
  config: WarrenConfig;
  created: boolean;
  /** Writes the file; until then nothing on disk has changed. */
  commit(): void;
  /** Drops the prepared file. */
  discard(): void;
}

/** The names already in the file's "workspaces" (any case), or a ConfigWriteError when the file is not valid JSON. */
export function workspaceNames(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const parsed = parseJsonc(fs.readFileSync(file, 'utf8'));
  if ('error' in parsed) throw new ConfigWriteError(`${file} is not valid JSON${parsed.error ? ` (${parsed.error.problem})` : ''}: fix it first (warren check --config ${file})`);
  const ws = (parsed.value as { workspaces?: unknown } | null)?.workspaces;
  return ws && typeof ws === 'object' && !Array.isArray(ws) ? Object.keys(ws) : [];
}

export function prepareAdd(file: string, name: string, entry: Record<string, unknown>): PreparedAdd {
  const abs = path.resolve(file);
  const taken = workspaceNames(abs).find((n) => n.toLowerCase() === name.toLowerCase());
  if (taken !== undefined) throw new ConfigWriteError(`workspace ${JSON.stringify(taken)} is already in ${abs}: choose another name, or remove that entry first`);
  const created = !fs.existsSync(abs);
  const before = created ? '{\n  "workspaces": {}\n}\n' : fs.readFileSync(abs, 'utf8');
  const edits = modify(before, ['workspaces', name], entry, { formattingOptions: { insertSpaces: true, tabSize: 2, eol: '\n' } });
  const after = applyEdits(before, edits);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.tmp`);
  const mode = created ? 0o600 : fs.statSync(abs).mode & 0o777;
  fs.writeFileSync(tmp, after, { mode, flag: 'w' });
  const discard = () => fs.rmSync(tmp, { force: true });
  // Loaded from its real directory: relative key paths resolve as they will.
  const check = checkConfigFile(tmp);
  if (!check.config) {
    discard();
    const first = check.problems[0]!;
    const more = check.problems.length > 1 ? ` (and ${check.problems.length - 1} more: warren check --config ${abs})` : '';
    throw new ConfigWriteError(`${abs} would not load with the new entry: ${first.key ? `${first.key}: ` : ''}${first.message}${more}`);
  }
  return {
    path: abs, config: { ...check.config, path: abs }, created,
    commit: () => fs.renameSync(tmp, abs),
    discard,
  };
}
