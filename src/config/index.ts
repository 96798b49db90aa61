// The config loader: read a JSONC file, check every key, fill in every default.
export { loadConfig, checkConfigFile, defaultConfigPath, type ConfigFileCheck } from './load.js';
export { validateConfig, checkConfig, type ConfigCheck } from './validate.js';
export type { ConfigProblem } from './messages.js';
export { ConfigSchema, WORKSPACE_NAME } from './schema.js';
export { LOG_LEVELS } from '../log.js';
export type {
  WarrenConfig, WorkspaceConfig, GatewayConfig, TransportConfig, OpencodeConfig, KeepaliveConfig, LogLevel, JumpHostConfig, WorkspaceTransport,
} from './schema.js';
export { ConfigError } from '../errors.js';
