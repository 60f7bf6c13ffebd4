/**
 * The Microsoft Graph client, built without the SDK's RetryHandler (Temporal owns retries,
 * docs/architecture.md) and with a timeout on every request.
 *
 * Chain: AuthenticationHandler → RedirectHandler → TelemetryHandler → HttpsMessageHandler.
 * (The default chain is AuthenticationHandler → RetryHandler → RedirectHandler → TelemetryHandler →
 * HTTPMessageHandler; we drop RetryHandler, and our last handler sends with a deadline over Node's
 * https instead of `fetch`.)
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  AuthenticationHandler,
  Client,
  RedirectHandler,
  RedirectHandlerOptions,
  TelemetryHandler,
  type AuthenticationProvider,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { httpsSend, type TransportResponse } from './https-transport';

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

/**
 * The chain's last middleware, in place of the SDK's HTTPMessageHandler (which calls `fetch`): sends
 * the request over https-transport.ts with the client's deadline and hands the SDK a `Response`.
 * Transport failures keep their useful part (timeout, or the socket's error code) in the message,
 * because the SDK turns a rejection into GraphError(-1) keeping only name and message.
 */
export class HttpsMessageHandler implements Middleware {
  constructor(private readonly timeoutMs: number) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const options = context.options ?? {};
    let sent: TransportResponse;
    try {
      sent = await httpsSend(url, {
        method: options.method ?? 'GET',
        headers: plainHeaders(options.headers),
        body: typeof options.body === 'string' ? options.body : undefined,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      const e = err as { name?: string; message?: string; cause?: { code?: string } };
      const code = e?.cause?.code;
      if (code && e.message && !e.message.includes(code)) {
        const t = new Error(`${e.message} (${code})`);
        t.name = e.name ?? 'Error';
        throw t;
      }
      throw err;
    }
    const nullBody = sent.status === 204 || sent.status === 205 || sent.status === 304;
    context.response = new Response(nullBody ? null : sent.text, { status: sent.status, headers: sent.headers.entries() });
    const scope = graphCallScope.getStore();
    if (scope) scope.headers = context.response.headers;
  }
}

/** The request's headers as the SDK left them (a plain object, or a `Headers` from a caller). */
function plainHeaders(h: unknown): Record<string, string> {
  if (h === undefined || h === null) return {};
  if (h instanceof Headers || Array.isArray(h)) return Object.fromEntries(h as Iterable<[string, string]>);
  return { ...(h as Record<string, string>) };
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
    new HttpsMessageHandler(o.timeoutMs),
  ];
  const customHosts = customHostsFor(o.graphBaseUrl);
  return Client.initWithMiddleware({
    baseUrl: `${o.graphBaseUrl.replace(/\/+$/, '')}/`,
    middleware,
    ...(customHosts ? { customHosts } : {}),
  });
}
