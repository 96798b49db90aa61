// What a caller gives sendMessage (chat.ts) and gets back: the options a run takes,
// each with its default, and the hooks that see it. Kept apart so the run's code
// reads as the run.
import type { PermissionRequest, QuestionRequest } from '@opencode-ai/sdk/v2';
import type { Logger } from '../log.js';
import type { Link } from '../ssh/link.js';
import type { ToolEvent } from './reply.js';
import type { OpencodeServer } from './server.js';

/**
 * Called before each step of a message, for fault tests to break the link at an
 * exact point of a run with a real fault (an sshd killed, a workspace frozen).
 */
export type StepHook = (step: 'locate' | 'create' | 'subscribe' | 'prompt' | 'reply') => Promise<void> | void;

export interface ChatContext { workspace: string; link: Link; server: OpencodeServer; logger: Logger; onStep?: StepHook | undefined }

export interface ChatOptions {
  sessionID: string;
  /** The session's directory (from locateSession): whose event stream to follow. */
  directory: string;
  text: string;
  onDelta?: (text: string) => void;
  onTool?: (t: ToolEvent) => void;
  /** The message's id (newMessageId()), when the caller needs it before the run starts. */
  messageID?: string;
  /**
   * The prompt was sent earlier (by a daemon that has since restarted): follow its
   * reply without sending anything. The message must be in the session's history.
   */
  follow?: boolean;
  /**
   * opencode asks the person for a permission (the run's session or a subagent's);
   * answer with answerPermission (ask.ts). Once per request.
   */
  onPermission?: (p: PermissionRequest) => void;
  /** opencode asks the person a question; answer with answerQuestion (ask.ts). Once per request. */
  onQuestion?: (q: QuestionRequest) => void;
  /** Aborts the run: with a WarrenError as the reason, that is the run's error; else CHAT_ABORTED. */
  signal?: AbortSignal;
  /** No event at all, heartbeats included, for this long: error. Default 30 s (opencode beats every 10 s). */
  heartbeatTimeoutMs?: number;
  /**
   * No sign of life of this run (any event about its session) for this long, once
   * opencode has called the model: error. Default 120 s. Before that call, silence is
   * allowed for 60 s if that is longer (opencode's first-use preparation says nothing).
   */
  progressTimeoutMs?: number;
  /** The whole run, not counting time spent waiting for a person's answer. Default 10 min. */
  deadlineMs?: number;
  /**
   * How long a permission or question may wait for its answer: then ASK_TIMEOUT, and
   * the run is aborted. Default 10 min. No other watchdog fires while one waits.
   */
  askTimeoutMs?: number;
  /** How long to wait for a dropped link to come back. Default 30 s. */
  reconnectWaitMs?: number;
}

export interface ChatResult { sessionID: string; messageID: string; text: string }

// The run's timing (chat.ts).

/** How long a subscription may take to say server.connected. */
export const SUBSCRIBE_CONFIRM_MS = 15_000;
/**
 * Until opencode has called the model it may be silent and still working: the first
 * prompt to a fresh server loads its providers before it even stores the message,
 * and the first run in a directory loads plugins and tools (seconds each on a busy
 * machine, 5.4 s measured), saying nothing about the session. Silence then is
 * allowed this long, or progressTimeoutMs if longer; from the call on, progressTimeoutMs.
 */
export const PREPARE_MS = 60_000;
/** opencode answers an abort within about 3 s, once its model call has wound down. */
export const ABORT_MS = 6_000;
/** A stream that broke with link and server fine (opencode disposed its instance, say): resubscribe this often at most. */
export const MAX_QUIET_BREAKS = 5;
/** How long a permission or question waits for a person by default. */
export const ASK_TIMEOUT_MS = 600_000;
