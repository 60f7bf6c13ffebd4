/**
 * A TCP proxy on 127.0.0.1 in front of one dependency (Temporal's frontend, Postgres), so the suite
 * can make it unreachable without touching it: `cut()` resets every open connection and every new
 * one until `restore()`. The target can be moved (a restarted server on another port).
 */
import net from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:<port>`: what the connector is given instead of the dependency's address. */
  address: string;
  port: number;
  /** Connections accepted since the start, and those reset by a cut. */
  stats(): { accepted: number; reset: number; open: number };
  /** From now on every connection is reset at once, and the open ones are reset now. */
  cut(): void;
  restore(): void;
  isCut(): boolean;
  retarget(port: number, host?: string): void;
  close(): Promise<void>;
}

export async function startTcpProxy(o: { targetPort: number; targetHost?: string; name: string }): Promise<TcpProxy> {
  let target = { host: o.targetHost ?? '127.0.0.1', port: o.targetPort };
  let cut = false;
  let accepted = 0;
  let reset = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  const kill = (s: net.Socket) => {
    // An RST, as a broken network path shows itself to the client; destroy() if the socket is gone.
    try {
      s.resetAndDestroy();
    } catch {
      s.destroy();
    }
  };

  const server = net.createServer((client) => {
    accepted++;
    if (cut) {
      reset++;
      kill(client);
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    address: `127.0.0.1:${port}`,
    port,
    stats: () => ({ accepted, reset, open: pairs.size }),
    cut() {
      cut = true;
      for (const p of [...pairs]) {
        pairs.delete(p);
        reset++;
        kill(p.client);
        kill(p.upstream);
      }
    },
    restore() {
      cut = false;
    },
    isCut: () => cut,
    retarget(newPort, host) {
      target = { host: host ?? target.host, port: newPort };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.upstream.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      }),
  };
}

/** Cuts the proxy for `ms`, then restores it (also when interrupted). */
export async function cutFor(proxy: TcpProxy, ms: number): Promise<void> {
  proxy.cut();
  try {
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    proxy.restore();
  }
}
