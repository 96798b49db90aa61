import fs from 'node:fs';

/** warren's own version, from package.json (read once, at first use). */
export function warrenVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
