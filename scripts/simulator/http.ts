/**
 * A small keep-alive HTTP/1.1 JSON client on node:http, for the fleet simulator and the benchmark's
 * load loops: one connection pool, a timeout per request, and the time each request took.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpResult {
  status: number;
  /** Response body as text ('' when none). */
  text: string;
  /** Milliseconds from sending the request to the end of the response. */
  ms: number;
}

export interface HttpClient {
  request(
    method: string,
    path: string,
    opts?: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number },
  ): Promise<HttpResult>;
  close(): void;
}

/** `maxSockets` bounds the open connections; requests beyond it queue in the agent. */
export function createHttpClient(baseUrl: string, opts: { maxSockets?: number; headers?: Record<string, string> } = {}): HttpClient {
  const base = new URL(baseUrl);
  const isHttps = base.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 32, maxFreeSockets: opts.maxSockets ?? 32 };
  const agent = isHttps ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const transport = isHttps ? https : http;
  const basePath = base.pathname.replace(/\/+$/, '');

  return {
    request(method, path, o = {}) {
      const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
      const headers: Record<string, string | number> = { Accept: 'application/json', ...opts.headers, ...o.headers };
      if (payload) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const started = performance.now();
      return new Promise<HttpResult>((resolve, reject) => {
        const req = transport.request(
          { protocol: base.protocol, hostname: base.hostname, port: base.port, path: `${basePath}${path}`, method, headers, agent },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }),
            );
            res.on('error', reject);
          },
        );
        req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 30_000} ms`)));
        req.on('error', reject);
        req.end(payload);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
