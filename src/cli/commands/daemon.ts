// `warren daemon [--config F] [--socket PATH] [--keep-servers]`: runs the broker
// for every configured workspace, the control socket and the gateway.
// SIGHUP, or `warren reload` over the control socket, reloads the config (only
// changed workspaces are touched); under systemd (Type=notify) it says READY=1 once
// the control socket and the gateway listen, STOPPING=1 when it drains. SIGTERM or
// SIGINT drains: no new requests, open message streams end with an error event,
// the opencode servers warren runs are stopped (unless --keep-servers), links
// close, exit 0.
import { parseArgs } from 'node:util';
import { attachInfo, attachRequestOf } from '../../broker/attach.js';
import { parseUsageQuery } from '../../broker/usage.js';
import { Broker } from '../../broker/broker.js';
import { ConfigReloader, type ReloadReport } from '../../broker/config-reload.js';
import { startControl, type ControlServer } from '../../broker/control.js';
import { defaultSocketPath } from '../../broker/control-path.js';
import { defaultStateDir, resolveToken } from '../../broker/token.js';
import { defaultConfigPath, loadConfig } from '../../config/index.js';
import { UsageError } from '../../errors.js';
import { startGateway, type Gateway } from '../../gateway/server.js';
import { createLogger } from '../../log.js';
import { notifierFromEnv } from '../sd-notify.js';

export async function daemonCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { config: { type: 'string' }, socket: { type: 'string' }, 'keep-servers': { type: 'boolean', default: false } },
  });
  if (positionals.length) throw new UsageError('usage: warren daemon [--config F] [--socket PATH] [--keep-servers]');
  const configPath = values.config ?? defaultConfigPath();
  const config = loadConfig(configPath);
  const logger = createLogger({ level: process.env.WARREN_LOG_LEVEL ?? config.logLevel, pretty: Boolean(process.stderr.isTTY) });
  const socket = values.socket ?? defaultSocketPath();
  const token = resolveToken(config.gateway);
  if (token.generated) logger.info({ tokenFile: token.file }, 'generated a gateway token');
  else if (token.file) logger.info({ tokenFile: token.file }, 'using the gateway token from its file');
  if (token.value.length < 16) logger.warn('the gateway token is shorter than 16 characters: anyone who can reach the gateway may guess it; use a long random one');

  const notifier = notifierFromEnv(process.env, logger);
  const broker = new Broker(config, { logger, stateDir: config.gateway.stateDir ?? defaultStateDir(), usageRefreshMs: usageRefreshMs(process.env) });
  const reloader = new ConfigReloader(broker, configPath, config, logger);
  let control: ControlServer | undefined;
  let gateway: Gateway | undefined;
  try {
    control = await startControl({
      status: () => broker.status(),
      // {"cmd":"usage","workspace"?,"since"?,"by"?}: the words as the person typed them, read here.
      usage: (req) => {
        const str = (k: string) => (typeof req[k] === 'string' ? req[k] as string : undefined);
        const ws = str('workspace');
        return broker.usageReport(ws === undefined ? null : [ws], parseUsageQuery(str('since'), str('by')));
      },
      attach: (req) => attachInfo(broker, gateway ? { address: gateway.address, token: token.value } : null, attachRequestOf(req)),
      reload: async () => {
        const report = await reloader.reload('control');
        notifier.send(reloadStatus(report));
        return report;
      },
    }, socket, logger);
    gateway = await startGateway(broker, { listen: config.gateway.listen, token: token.value, logger, allowedOrigins: config.gateway.allowedOrigins });
    broker.gateway = gateway.address;
  } catch (err) {
    await control?.close();
    await broker.close({ stopServers: false });
    throw err;
  }
  logger.info({ gateway: gateway.address, socket, workspaces: broker.names }, 'warren daemon ready');
  notifier.send('READY=1', `STATUS=serving ${broker.names.length} workspace(s); gateway ${gateway.address}`);

  const onHup = () => {
    reloader.reload('SIGHUP').then(
      (report) => notifier.send(reloadStatus(report)),
      (err: unknown) => logger.error({ err }, 'reload failed; the running config stays'),
    );
  };
  process.on('SIGHUP', onHup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'draining');
  notifier.send('STOPPING=1', 'STATUS=draining');
  process.off('SIGHUP', onHup);
  await reloader.stop();
  await gateway.close({ graceMs: 5000 });
  await control.close();
  await broker.close({ stopServers: !values['keep-servers'] });
  await notifier.settled();
  logger.info('warren daemon stopped');
  return 0;
}

/** The line `systemctl status` shows after a reload. */
function reloadStatus(r: ReloadReport): string {
  if (!r.reloaded) return `STATUS=reload failed (${r.problems.length} problem(s) in ${r.path}); the running config stays`;
  const { added, removed, changed } = r.workspaces;
  return `STATUS=reloaded: ${added.length} added, ${removed.length} removed, ${changed.length} changed`;
}

/** WARREN_USAGE_REFRESH_MS: how often status's today's usage is read (default 60 s; 0: only on usage requests). */
function usageRefreshMs(env: NodeJS.ProcessEnv): number {
  const v = env.WARREN_USAGE_REFRESH_MS;
  if (v === undefined || v === '') return 60_000;
  if (!/^\d{1,9}$/.test(v) || (Number(v) > 0 && Number(v) < 1000)) throw new UsageError(`WARREN_USAGE_REFRESH_MS must be 0 or a number of milliseconds from 1000, not ${JSON.stringify(v.slice(0, 20))}`);
  return Number(v);
}
