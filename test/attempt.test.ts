// Which failed connection attempts heal by retrying (the daemon's and a one-shot
// command's links both retry these) and which stay until a person acts (a one-shot
// command stops at once): the link's failFast policy rests on this split.
import t from 'tap';
import { AuthError, ConnectError, HostKeyMismatchError } from '../src/errors.js';
import { attemptFailure, healsByRetrying } from '../src/ssh/attempt.js';

const errno = (code: string) => Object.assign(new Error(code), { code });
const connect = (cause: unknown) => new ConnectError('alpha', 'u@h:22', 'why', cause);

t.test('refused, unreachable, key and host key refused do not heal', async (t) => {
  const cases: Array<[unknown, string]> = [
    [connect(errno('ECONNREFUSED')), 'refused'],
    [connect(errno('EHOSTUNREACH')), 'unreachable'],
    [connect(errno('ENETUNREACH')), 'unreachable'],
    [connect(errno('ENOTFOUND')), 'unreachable'],
    [connect(errno('EAI_AGAIN')), 'unreachable'],
    [new AuthError('alpha', 'u', 'u@h:22'), 'auth'],
    [new HostKeyMismatchError('alpha', 'u@h:22', ['SHA256:a'], 'SHA256:b'), 'host-key'],
  ];
  for (const [err, kind] of cases) {
    t.equal(attemptFailure(err), kind, (err as Error).message);
    t.notOk(healsByRetrying(attemptFailure(err)), `${kind} does not heal`);
  }
});

t.test('timeouts, resets and throttling heal, and so does anything unknown', async (t) => {
  const cases: Array<[unknown, string]> = [
    [connect(new Error('TCP connect timed out after 10000 ms')), 'timeout'],
    [connect(Object.assign(new Error('Timed out while waiting for handshake'), { level: 'client-timeout' })), 'timeout'],
    [connect(errno('ETIMEDOUT')), 'timeout'],
    [connect(errno('ECONNRESET')), 'reset'],
    // sshd past MaxStartups closes the connection during the banner exchange.
    [new ConnectError('alpha', 'u@h:22', 'connection closed during the SSH handshake', new Error('connection closed during the SSH handshake')), 'reset'],
    [connect(new Error('something new')), 'other'],
  ];
  for (const [err, kind] of cases) {
    t.equal(attemptFailure(err), kind, (err as Error).message);
    t.ok(healsByRetrying(attemptFailure(err)), `${kind} heals`);
  }
});
