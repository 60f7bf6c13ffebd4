/**
 * Free loopback ports for the servers we start ourselves (npm start's children in tests, benches).
 *
 * A port is chosen below the kernel's ephemeral range. Between choosing a port and the server binding
 * it, the processes we start open outgoing connections (Temporal's own, Postgres clients), and each
 * takes a source port from the ephemeral range: a port chosen there (as `listen(0)` does) can be taken
 * before our server binds it. Below that range the kernel hands nothing out by itself.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Linux's default start of the ephemeral range; macOS and Windows start higher (49152). */
const DEFAULT_EPHEMERAL_START = 32768;
const LOWEST = 10000;
const handedOut = new Set<number>();
let ephemeralStartRead: number | undefined;

/** The kernel's setting, read once per process. */
function ephemeralStart(): number {
  ephemeralStartRead ??= readEphemeralStart();
  return ephemeralStartRead;
}

function readEphemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? Math.min(first, DEFAULT_EPHEMERAL_START) : DEFAULT_EPHEMERAL_START;
  } catch {
    return DEFAULT_EPHEMERAL_START;
  }
}

function listenOn(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A loopback port nothing listens on, not handed out before by this process. */
export async function freePort(): Promise<number> {
  const high = ephemeralStart();
  if (high - LOWEST >= 1000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = LOWEST + Math.floor(Math.random() * (high - LOWEST));
      if (handedOut.has(port)) continue;
      handedOut.add(port); // reserved before the await, so concurrent callers never get the same port
      if ((await listenOn(port)) !== null) return port;
      handedOut.delete(port);
    }
  }
  // A machine whose ephemeral range starts too low to leave room: let the kernel choose.
  const port = await listenOn(0);
  if (port === null) throw new Error('no free loopback port');
  handedOut.add(port);
  return port;
}
