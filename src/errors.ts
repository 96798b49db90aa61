// Every error warren raises, each with a stable code that callers and tests match
// on (never on message text). Messages are one line a person can act on; detail
// for operators goes to the logs, and secrets go nowhere. Every WarrenError is
// built in these modules (test/errors.test.ts), one per layer, all from here.
export * from './errors/base.js';
export * from './errors/ssh.js';
export * from './errors/opencode.js';
export * from './errors/broker.js';
export * from './errors/docker.js';
