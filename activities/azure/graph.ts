/**
 * The Microsoft Graph client, built without the SDK's RetryHandler (Temporal owns retries,
 * docs/architecture.md) and with a timeout on every request.
 *
 * Chain: AuthenticationHandler → RedirectHandler → TelemetryHandler → TimeoutHandler → HTTPMessageHandler.
 * (The default chain is AuthenticationHandler → RetryHandler → RedirectHandler → TelemetryHandler →
 * HTTPMessageHandler; we drop RetryHandler and add our TimeoutHandler just before the fetch.)
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  AuthenticationHandler,
  Client,
  HTTPMessageHandler,
  RedirectHandler,
  RedirectHandlerOptions,
  TelemetryHandler,
  type AuthenticationProvider,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';

/** Hosts the Graph SDK already treats as Graph (its GRAPH_URLS constant). */
const GRAPH_HOSTS = new Set([
  'graph.microsoft.com',
  'graph.microsoft.us',
  'dod-graph.microsoft.us',
  'graph.microsoft.de',
  'microsoftgraph.chinacloudapi.cn',
  'canary.graph.microsoft.com',
]);

/**
 * Per Graph call: the headers of the last response. The SDK drops them from the GraphError it
 * throws for a non-JSON error body (e.g. a text/html 503 from a gateway, Retry-After included).
 */
export const graphCallScope = new AsyncLocalStorage<{ headers?: Headers }>();

/** Sets a fresh `AbortSignal.timeout` on each fetch and makes transport errors say what happened. */
export class TimeoutHandler implements Middleware {
  private nextMiddleware?: Middleware;

  constructor(private readonly timeoutMs: number) {}

  async execute(context: Context): Promise<void> {
    context.options = { ...(context.options ?? {}), signal: AbortSignal.timeout(this.timeoutMs) };
    if (!this.nextMiddleware) throw new Error('TimeoutHandler must not be the last middleware');
    try {
      await this.nextMiddleware.execute(context);
      const scope = graphCallScope.getStore();
      if (scope && context.response) scope.headers = context.response.headers;
    } catch (err) {
      // The SDK turns a fetch rejection into GraphError(-1) keeping only name and message: put the
      // useful part (timeout, or the socket error code hidden in `cause`) into the message.
      const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
        const t = new Error(`request timed out after ${this.timeoutMs} ms`);
        t.name = 'TimeoutError';
        throw t;
      }
      const cause = e?.cause?.code ?? e?.cause?.message;
      if (cause && e.message && !e.message.includes(cause)) {
        const t = new Error(`${e.message} (${cause})`);
        t.name = e.name ?? 'Error';
        throw t;
      }
      throw err;
    }
  }

  setNext(next: Middleware): void {
    this.nextMiddleware = next;
  }
}

export interface GraphClientOptions {
  graphBaseUrl: string;
  timeoutMs: number;
  authProvider: AuthenticationProvider;
}

/** `customHosts` for a base URL: its host name (no port) unless it is a Graph host already. */
export function customHostsFor(graphBaseUrl: string): Set<string> | undefined {
  const hostname = new URL(graphBaseUrl).hostname.toLowerCase();
  return GRAPH_HOSTS.has(hostname) ? undefined : new Set([hostname]);
}

export function createGraphClient(o: GraphClientOptions): Client {
  const middleware: Middleware[] = [
    new AuthenticationHandler(o.authProvider),
    new RedirectHandler(new RedirectHandlerOptions()),
    new TelemetryHandler(),
    new TimeoutHandler(o.timeoutMs),
    new HTTPMessageHandler(),
  ];
  const customHosts = customHostsFor(o.graphBaseUrl);
  return Client.initWithMiddleware({
    baseUrl: `${o.graphBaseUrl.replace(/\/+$/, '')}/`,
    middleware,
    ...(customHosts ? { customHosts } : {}),
  });
}
