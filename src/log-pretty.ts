// Log lines for a person at a terminal: "12:03:04 WARN  alpha link state from=up to=down …".
// pino writes JSON; this turns each line around on its way to stderr.
import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'ws']);

export function prettyStream(out: NodeJS.WritableStream = process.stderr, color = true): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        const t = new Date(Number(o.time)).toTimeString().slice(0, 8);
        const lvl = Number(o.level);
        const name = LEVELS[lvl] ?? String(lvl);
        const tag = color && COLORS[lvl] ? `${COLORS[lvl]}${name}\x1b[0m` : name;
        const fields = Object.entries(o).filter(([k]) => !SKIP.has(k))
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        out.write(`${t} ${tag} ${o.ws ? `${String(o.ws)} ` : ''}${String(o.msg ?? '')}${fields ? ` ${fields}` : ''}\n`);
      }
      cb();
    },
  });
}
