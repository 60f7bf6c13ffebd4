/**
 * The API's HTTP server: the Hono app on @hono/node-server, plus what happens to a request body the
 * app did not read (a 413 for a body over 1 MiB, a 401 before the body was looked at).
 *
 * Unread body bytes sit on the connection in front of the client's next request. The adapter's own
 * clean-up waits 500 ms and then destroys the socket, so a keep-alive client's next request fails and
 * concurrent oversize posts can lose their answer. Instead, once the response is sent:
 *  - the rest of a body of known length up to DISCARD_LIMIT_BYTES is read and thrown away, and the
 *    connection stays open for the next request (answered `Connection: keep-alive`);
 *  - a larger or chunked body is answered `Connection: close`; the server then closes its side after
 *    the response is flushed and keeps throwing away what still arrives until the body ends or the
 *    client closes (a "lingering close": closing with unread data would reset the connection and
 *    could destroy the response before the client read it).
 * Either way, a client that does not send what it announced is cut off after DISCARD_TIMEOUT_MS.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { serve, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import type { App } from './context';

/** The most unread body the server reads and discards to keep a connection. */
export const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;
/** How long a client may take to send the rest of a body nobody will read. */
export const DISCARD_TIMEOUT_MS = 10_000;

function declaredLength(incoming: IncomingMessage): number | undefined {
  if (incoming.headers['transfer-encoding'] !== undefined) return undefined;
  const raw = incoming.headers['content-length'];
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/** Reads what is left of the body into nothing; the socket is destroyed if it does not end in time. */
function discardRest(incoming: IncomingMessage, socket: Socket): void {
  if (incoming.readableEnded || incoming.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), DISCARD_TIMEOUT_MS);
  timer.unref();
  const done = (): void => clearTimeout(timer);
  incoming.once('end', done);
  incoming.once('close', done);
  // Whatever the app attached to read the body (the adapter's web stream) would pause it again.
  incoming.removeAllListeners('data');
  incoming.on('data', () => {});
  incoming.resume();
}

/**
 * Node destroys a `Connection: close` socket as soon as the response is flushed; with body bytes still
 * unread that sends a reset. This socket instead closes its sending side, drains the rest, and is
 * destroyed once the body has ended or the client has closed (or after DISCARD_TIMEOUT_MS).
 */
function lingerOnClose(incoming: IncomingMessage, socket: Socket): void {
  socket.destroySoon = () => {
    if (!socket.writableEnded) socket.end();
    const destroy = (): void => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(destroy, DISCARD_TIMEOUT_MS);
    timer.unref();
    socket.once('end', destroy);
    if (incoming.readableEnded) destroy();
    else incoming.once('end', destroy);
    discardRest(incoming, socket);
  };
}

function withUnreadBodyHandling(app: App) {
  return async (request: Request, env: HttpBindings | Http2Bindings): Promise<Response> => {
    const response = await app.fetch(request, env);
    // An HTTP/1 server (see startApiServer): the bindings are node:http's.
    const { incoming, outgoing } = env as { incoming: IncomingMessage; outgoing: ServerResponse };
    if (incoming.readableEnded || incoming.destroyed) return response;
    // Arrived whole with nothing left in memory (every GET): Node's own clean-up ends it.
    if (incoming.complete && incoming.readableLength === 0) return response;
    const socket = incoming.socket;
    // `complete`: the rest of the body waits in memory only, not on the connection.
    const length = incoming.complete ? 0 : declaredLength(incoming);
    if (length !== undefined && length <= DISCARD_LIMIT_BYTES) {
      outgoing.once('finish', () => discardRest(incoming, socket));
      return response;
    }
    lingerOnClose(incoming, socket);
    const closing = new Response(response.body, response);
    closing.headers.set('Connection', 'close');
    return closing;
  };
}

export interface ApiServerOptions {
  port: number;
  /** Default: every interface, like `serve`. */
  hostname?: string;
  onListening?: (port: number) => void;
}

/** Serves the app; what api/main.ts runs (and the tests, to check the connection handling). */
export function startApiServer(app: App, o: ApiServerOptions): Server {
  return serve(
    {
      fetch: withUnreadBodyHandling(app),
      port: o.port,
      ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
      // Our withUnreadBodyHandling replaces the adapter's 500 ms drain-then-destroy.
      autoCleanupIncoming: false,
    },
    (info) => o.onListening?.(info.port),
  ) as Server;
}
