// OpenCode's identifiers: a prefix, "_", 12 hex digits of time, 14 base62
// characters. Session ids are checked against this before anything runs with them.
import { randomInt } from 'node:crypto';

const SESSION_ID = /^ses_[0-9a-f]{12}[0-9A-Za-z]{14}$/;

export function isSessionId(s: string): boolean {
  return SESSION_ID.test(s);
}

const MESSAGE_ID = /^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/;

export function isMessageId(s: string): boolean {
  return MESSAGE_ID.test(s);
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
let lastTime = 0;
let counter = 0;

/**
 * A message id that sorts after every id opencode made before now, as its own
 * ascending ids do (48 bits of milliseconds x 4096 + a counter, in hex). Giving
 * prompt_async our own id lets warren tell, after a dropped tunnel, whether the
 * message arrived, instead of sending it twice.
 */
export function newMessageId(now = Date.now()): string {
  if (now !== lastTime) {
    lastTime = now;
    counter = 0;
  }
  counter++;
  const value = (BigInt(now) * 0x1000n + BigInt(counter)) & 0xffffffffffffn;
  let rand = '';
  for (let i = 0; i < 14; i++) rand += BASE62[randomInt(62)];
  return `msg_${value.toString(16).padStart(12, '0')}${rand}`;
}
