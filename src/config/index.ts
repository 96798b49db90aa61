// The config loader: read a JSON file, check every key, fill in every default.
export { loadConfig, defaultConfigPath } from './load.js';
export { validateConfig } from './validate.js';
export { ConfigSchema, WORKSPACE_NAME } from './schema.js';
export { LOG_LEVELS } from '../log.js';
export type {
  WarrenConfig, WorkspaceConfig, GatewayConfig, TransportConfig, OpencodeConfig, KeepaliveConfig, LogLevel,
} from './schema.js';
export { ConfigError } from '../errors.js';
