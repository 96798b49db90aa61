// warren as a library: the same capabilities as the daemon, in-process.
//
//   import { createBroker } from 'warren';
//   const broker = createBroker('/etc/warren/config.json');
//   const { text } = await broker.sendMessage('alpha', sessionID, { text: 'hello', onDelta: (d) => process.stdout.write(d) });
//   const client = await broker.opencodeClient('alpha');   // @opencode-ai/sdk/v2, over the tunnel
//   await broker.close();
export { createBroker, Broker, type BrokerOptions, type ReloadResult } from './broker/broker.js';
export { WorkspaceRuntime } from './broker/workspace.js';
export type { BrokerStatus, WorkspaceStatus, TunnelStatus, OpencodeStatus, MessageStats } from './broker/status.js';
export { loadConfig, validateConfig, ConfigError, type WarrenConfig, type WorkspaceConfig } from './config/index.js';
export { Link, type LinkOptions, type LinkSnapshot, type LinkState } from './ssh/link.js';
export { createLinkDispatcher, type LinkDispatcherOptions } from './ssh/dispatcher.js';
export { opencodeClientOverLink } from './opencode/client.js';
export { startLocalForward } from './ssh/local-forward.js';
export type { ChatOptions, ChatResult, ToolEvent } from './opencode/chat.js';
export { PERMISSION_REPLIES, type PermissionReply } from './opencode/ask.js';
export type { PermissionRequest, QuestionRequest, QuestionInfo, QuestionAnswer } from '@opencode-ai/sdk/v2';
export type { SessionRow } from './opencode/sessions.js';
export * from './errors.js';
export { quoteArg, quoteCommand } from './ssh/quote.js';
export { warrenVersion } from './version.js';
