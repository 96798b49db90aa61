// `warren chat <workspace> [--session <id>] [--directory D] [--config F] [--keep-server] [--auto] <message>`
// Streams the reply to stdout and exits 0 when the session goes idle. Works without
// a daemon: it opens its own link, and stops a server it started itself when done
// (unless --keep-server), since nothing would stop it when idle otherwise. When
// opencode asks a person, it asks on the terminal, or follows --auto (ask-person.ts).
import { parseArgs } from 'node:util';
import { UsageError } from '../../errors.js';
import { checkDirectory } from '../../broker/workspace.js';
import { checkSessionId, type SessionInfo } from '../../opencode/locate.js';
import { cliLogger, loadFor, openWorkspace, pickWorkspace } from '../context.js';
import { personAnswerer } from '../ask-person.js';

export async function chatCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      session: { type: 'string' }, directory: { type: 'string' }, config: { type: 'string' },
      'keep-server': { type: 'boolean', default: false }, auto: { type: 'boolean', default: false },
    },
  });
  const [name, ...words] = positionals;
  const message = words.join(' ');
  if (!name || !message.trim()) throw new UsageError('usage: warren chat <workspace> [--session <id>] [--directory D] [--config F] [--auto] <message>');
  if (values.session !== undefined) checkSessionId(values.session);
  if (values.directory !== undefined) checkDirectory(values.directory);
  const config = loadFor(values.config);
  const wsConfig = pickWorkspace(config, name);
  const logger = cliLogger();
  const rt = await openWorkspace(wsConfig, logger);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let wroteText = false;
  let endsWithNewline = true;
  try {
    let sessionID = values.session;
    let created: SessionInfo | undefined;
    if (sessionID === undefined) {
      created = await rt.createSession(values.directory !== undefined ? { directory: values.directory } : {});
      sessionID = created.id;
      process.stderr.write(`session: ${sessionID}\n`);
    }
    const person = personAnswerer({ auto: values.auto, terminal: Boolean(process.stdin.isTTY && process.stderr.isTTY), stderr: process.stderr, stdin: process.stdin });
    const id = sessionID;
    // An answer that fails (the run ended meanwhile, say) ends in the run's own error.
    const answer = (p: Promise<unknown>) => { p.catch((err: Error) => logger.warn({ err: err.message }, 'answering opencode failed')); };
    await rt.chat(sessionID, {
      text: message, signal: abort.signal,
      onPermission: (p) => answer(person.permission(p).then((reply) => rt.answerPermission(id, p.id, reply))),
      onQuestion: (q) => answer(person.question(q).then((answers) => rt.answerQuestion(id, q.id, answers))),
      onDelta: (d) => {
        wroteText = true;
        endsWithNewline = d.endsWith('\n');
        process.stdout.write(d);
      },
    }, created);
    return 0;
  } finally {
    if (wroteText && !endsWithNewline) process.stdout.write('\n');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rt.close({ stopServer: rt.server.snapshot().startedHere && !values['keep-server'] });
  }
}
