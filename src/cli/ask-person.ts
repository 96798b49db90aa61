// What `warren chat` does when opencode asks a person (a permission, a question):
// on a terminal it asks there; off one, --auto approves a permission once (as
// `opencode run --auto` does) and anything it cannot answer is refused, with one
// line on stderr naming what was asked, so a script never hangs on a question
// nobody sees. Questions are never guessed: off a terminal they are dismissed.
import readline from 'node:readline';
import type { PermissionRequest, QuestionRequest } from '@opencode-ai/sdk/v2';
import type { PermissionReply } from '../opencode/ask.js';
import { escapeUnsafe } from '../text.js';

export interface Answerer {
  permission(p: PermissionRequest): Promise<PermissionReply>;
  question(q: QuestionRequest): Promise<string[][] | 'reject'>;
}

const what = (p: PermissionRequest) => `${p.permission}${p.patterns.length ? ` ${p.patterns.join(', ')}` : ''}`;

export function personAnswerer(o: { auto: boolean; terminal: boolean; stderr: NodeJS.WritableStream; stdin: NodeJS.ReadableStream }): Answerer {
  const say = (line: string) => o.stderr.write(`${escapeUnsafe(line)}\n`);
  // One question at a time on the terminal, in the order opencode asked them.
  let queue = Promise.resolve<unknown>(undefined);
  const ask = (prompt: string): Promise<string> => {
    const next = queue.then(() => new Promise<string>((resolve) => {
      const rl = readline.createInterface({ input: o.stdin, output: o.stderr, terminal: true });
      // resolve before close: closing emits 'close' at once, which stands for "no answer" (Ctrl-D).
      rl.question(prompt, (answer) => { resolve(answer.trim()); rl.close(); });
      rl.once('close', () => resolve(''));
    }));
    queue = next.catch(() => {});
    return next;
  };
  return {
    async permission(p) {
      if (o.terminal) {
        for (;;) {
          const a = (await ask(`opencode asks to use ${escapeUnsafe(what(p))}: allow [y]es once, [a]lways, [n]o? `)).toLowerCase();
          if (a === 'y' || a === 'yes') return 'once';
          if (a === 'a' || a === 'always') return 'always';
          if (a === 'n' || a === 'no' || a === '') return 'reject';
        }
      }
      if (o.auto) {
        say(`warren: approved (--auto): ${what(p)}`);
        return 'once';
      }
      say(`warren: opencode asked to use ${what(p)}; refused: no terminal to ask on (--auto approves)`);
      return 'reject';
    },
    async question(q) {
      if (!o.terminal) {
        say(`warren: opencode asked "${q.questions.map((x) => x.question).join('; ')}"; dismissed: no terminal to ask on`);
        return 'reject';
      }
      const answers: string[][] = [];
      for (const x of q.questions) {
        const options = x.options.map((opt, i) => `  ${i + 1}. ${opt.label}${opt.description ? ` (${opt.description})` : ''}`).join('\n');
        for (;;) {
          const a = await ask(`${escapeUnsafe(x.question)}\n${escapeUnsafe(options)}\nanswer with a number${x.multiple ? 's, comma-separated,' : ''} (empty dismisses): `);
          if (a === '') return 'reject';
          const picked = a.split(',').map((n) => x.options[Number(n.trim()) - 1]?.label);
          if (picked.every((l): l is string => typeof l === 'string') && (x.multiple || picked.length === 1)) {
            answers.push(picked);
            break;
          }
        }
      }
      return answers;
    },
  };
}
