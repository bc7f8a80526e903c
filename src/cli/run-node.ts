/** Runs one relay node until SIGTERM/SIGINT; then closes every session and exits 0 within 5 s. */
import type { RelayConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import { Relay } from '../supervisor/relay.js';
import { relayOptionsFrom } from '../supervisor/from-config.js';
import { ApiServer } from '../api/http-server.js';

const STOP_DEADLINE_MS = 5000;

export async function runNode(config: RelayConfig, log: Logger): Promise<number> {
  const relay = new Relay(relayOptionsFrom(config, log));
  const api = new ApiServer(relay, { host: config.api.host, port: config.api.port, logger: log, ...(config.api.token !== undefined ? { token: config.api.token } : {}) });
  try {
    await relay.start();
    const addr = await api.listen();
    log.info({ api: `http://${addr.host}:${addr.port}` }, 'HTTP API listening');
  } catch (err) {
    log.fatal({ err }, 'could not start');
    await Promise.allSettled([api.close(), relay.stop()]);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      const deadline = setTimeout(() => {
        log.warn('clean stop took too long; exiting');
        resolve(0);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      void Promise.allSettled([api.close(), relay.stop()]).then(() => {
        clearTimeout(deadline);
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
