/**
 * The HTTPS transport of the Graph and partner-API calls: Node's `https.request` on a keep-alive
 * agent. (MSAL's token requests, a few an hour, keep `fetch`: activities/azure/msal.ts.)
 *
 * Node 20's global `fetch` (undici) costs more than twice the client CPU of `https.request` for the
 * same small JSON call over TLS (812 against 324 µs, `npx tsx bench/transport-cost.ts`), and a
 * report makes two or three calls (a new device's two lookups go in one batch) in the worker's
 * main thread, beside the SDK's own work (docs/benchmarks.md, "The Microsoft calls without `fetch`").
 *
 * Behaviour kept from `fetch`: the default CA store with NODE_EXTRA_CA_CERTS, connections kept
 * open between calls (closed after 4 s idle, as undici does), one deadline for the whole exchange,
 * redirects not followed; a kept connection that fails before any answer is tried once more on a new
 * one. Failures are `TransportError`: named `TimeoutError` when the deadline
 * passed, else carrying the socket's error (and its `code`) as `cause`.
 */
import type http from 'node:http';
import https from 'node:https';

/** What a call gets back: the status, the headers (names lower-cased) and the body as text. */
export interface TransportResponse {
  status: number;
  headers: ResponseHeaders;
  text: string;
}

export interface TransportRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

/** A request that got no HTTP response: the deadline passed, or the connection failed. */
export class TransportError extends Error {
  constructor(message: string, name: 'TimeoutError' | 'TransportError', cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = name;
  }
}

/** The response's headers, read like `Headers.get` (comma-joined when repeated). */
export class ResponseHeaders {
  constructor(private readonly raw: Readonly<Record<string, string | string[] | undefined>>) {}

  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** For a WHATWG `Response` (the Graph client wants one). */
  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const key of Object.keys(this.raw)) {
      const value = this.get(key);
      if (value !== null) out.push([key, value]);
    }
    return out;
  }
}

/** Idle connections close after this long, as undici's do: a server may drop them first. */
const IDLE_SOCKET_MS = 4_000;

const agent = new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' });

export function httpsSend(url: string, req: TransportRequest): Promise<TransportResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['Content-Length'] = Buffer.byteLength(req.body);
    let settled = false;
    let request: http.ClientRequest;
    /** The first outcome wins: an answer, a failure or the deadline. */
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      outcome();
    };
    const fail = (err: TransportError): void => settle(() => reject(err));
    const send = (firstTry: boolean): void => {
      let answered = false;
      request = https.request(url, { method: req.method, headers, agent }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => fail(new TransportError(err.message, 'TransportError', err)));
        res.on('end', () =>
          settle(() =>
            resolve({
              status: res.statusCode ?? 0,
              headers: new ResponseHeaders(res.headers),
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          ),
        );
      });
      request.on('error', (err) => {
        // A kept connection that failed before any answer: most often the server closed it as we
        // picked it (Node's `reusedSocket`). Each of our calls is safe to send twice, as a Temporal
        // retry of its activity would: send once more on a new connection.
        if (firstTry && !answered && !settled && request.reusedSocket) send(false);
        else fail(new TransportError(err.message, 'TransportError', err));
      });
      request.end(req.body);
    };
    const deadline = setTimeout(() => {
      fail(new TransportError(`request timed out after ${req.timeoutMs} ms`, 'TimeoutError'));
      request.destroy();
    }, req.timeoutMs);
    send(true);
  });
}
