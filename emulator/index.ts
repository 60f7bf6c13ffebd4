// startEmulator: wires state, services and the pipeline onto one HTTPS listener.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ensureCa, issueServerCert, DEFAULT_DATA_DIR } from './ca';
import { ControlPlane } from './control';
import { EmulatorControl } from './control-client';
import { FaultRegistry } from './faults';
import { GraphService } from './graph';
import { IdentityService } from './identity';
import { IntuneService } from './intune';
import { Journal } from './journal';
import { createRequestHandler } from './server';
import { DEFAULT_SETTINGS, EmulatorState } from './state';
import { TokenService } from './tokens';
import { ThrottleMeter } from './throttle';
import type { EmulatorSettings, SeedSpec } from './types';

export type * from './types';
export { EmulatorControl } from './control-client';

export interface EmulatorOptions {
  /** 0 = random; default 9443. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where the CA lives; default .data/azure-emulator in the project root. */
  dataDir?: string;
  /** Default false. */
  autoRegister?: boolean;
  /** Default 1. */
  pollsBeforeTerminal?: number;
  /** Default 3599. */
  tokenLifetimeSeconds?: number;
  /** Microsoft's throttling per service; default none. */
  throttle?: EmulatorSettings['throttle'];
  seed?: SeedSpec;
  logger?: (line: object) => void;
}

export interface RunningEmulator {
  /** https://localhost:PORT */
  url: string;
  port: number;
  caPemPath: string;
  control: EmulatorControl;
  close(): Promise<void>;
}

/** setTimeout-based sleeps that close() can cut short, so a delayed fault never holds shutdown. */
function createSleeper(): { sleep: (ms: number) => Promise<void>; cancelAll: () => void } {
  const pending = new Map<NodeJS.Timeout, () => void>();
  return {
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          pending.delete(t);
          resolve();
        }, ms);
        pending.set(t, resolve);
      }),
    cancelAll: () => {
      for (const [t, resolve] of pending) {
        clearTimeout(t);
        resolve();
      }
      pending.clear();
    },
  };
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const ca = ensureCa(opts.dataDir ?? DEFAULT_DATA_DIR);
  const { certPem, keyPem } = issueServerCert(ca);
  const state = new EmulatorState(
    {
      ...DEFAULT_SETTINGS,
      ...(opts.autoRegister !== undefined ? { autoRegister: opts.autoRegister } : {}),
      ...(opts.pollsBeforeTerminal !== undefined ? { pollsBeforeTerminal: opts.pollsBeforeTerminal } : {}),
      ...(opts.tokenLifetimeSeconds !== undefined ? { tokenLifetimeSeconds: opts.tokenLifetimeSeconds } : {}),
      ...(opts.throttle !== undefined ? { throttle: opts.throttle } : {}),
    },
    opts.seed,
  );
  const tokens = new TokenService();
  const faults = new FaultRegistry();
  const journal = new Journal();
  const sleeper = createSleeper();
  const throttle = new ThrottleMeter();
  let baseUrl = '';
  const handler = createRequestHandler({
    journal,
    faults,
    identity: new IdentityService(state, tokens),
    graph: new GraphService({ state, tokens, faults, sleep: sleeper.sleep, throttle }),
    intune: new IntuneService(state, tokens, throttle),
    control: new ControlPlane({ state, faults, journal, tokens, throttle }),
    baseUrl: () => baseUrl,
    sleep: sleeper.sleep,
    logger: opts.logger,
  });
  const server = createServer({ cert: certPem, key: keyPem }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 9443, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://localhost:${port}`;
  opts.logger?.({ msg: 'azure emulator listening', url: baseUrl });
  return {
    url: baseUrl,
    port,
    caPemPath: ca.caPemPath,
    control: new EmulatorControl(baseUrl),
    close: () =>
      new Promise<void>((resolve, reject) => {
        sleeper.cancelAll();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
