/**
 * A body over 1 MiB is answered 413 and the client's connection stays usable: the real server setup of
 * api/main.ts (api/server.ts on @hono/node-server) over a socket, with a keep-alive client of one
 * connection (so every request of a test shares it, or its replacement when the server said
 * `Connection: close`), several oversize posts at once.
 */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { MAX_BODY_BYTES } from '../../api/app';
import { DISCARD_LIMIT_BYTES, startApiServer } from '../../api/server';
import { MDM_KEY, makeApi, type TestApi } from './helpers';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Which TCP connection answered (the client's local port). */
  localPort: number;
}

/** One request through `agent`; `chunked` sends the body without a Content-Length. */
function send(
  agent: http.Agent,
  port: number,
  o: { method: string; path: string; body?: Buffer; chunked?: boolean; key?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (o.key) headers.Authorization = `Bearer ${o.key}`;
    if (o.body && !o.chunked) headers['Content-Length'] = String(o.body.length);
    const req = http.request({ host: '127.0.0.1', port, method: o.method, path: o.path, agent, headers }, (res) => {
      // Read now: the socket goes back to the agent's pool once the response has ended.
      const localPort = res.socket.localPort ?? 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), localPort }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.body && o.chunked) {
      // Several writes: chunked framing, no length announced.
      const step = 256 * 1024;
      for (let i = 0; i < o.body.length; i += step) req.write(o.body.subarray(i, i + step));
      req.end();
    } else req.end(o.body);
  });
}

/** A JSON-looking body of `size` bytes (never fully read by the server). */
function oversize(size: number): Buffer {
  const head = '{"type":"retire","occurredAt":"2026-11-28T10:00:00Z","pad":"';
  return Buffer.from(`${head}${'x'.repeat(size - head.length - 2)}"}`);
}

describe('API server: a 413 keeps the connection usable', function () {
  this.timeout(60_000);
  let api: TestApi;
  let server: http.Server;
  let port: number;
  let agent: http.Agent;

  before(async () => {
    api = makeApi();
    server = startApiServer(api.app, { port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });

  beforeEach(() => {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  });

  afterEach(() => agent.destroy());

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('ordinary requests share one kept-alive connection', async () => {
    const answers = [];
    for (const path of ['/healthz', '/healthz', '/v1/devices/mdm-1/events']) {
      const body = path.endsWith('events') ? Buffer.from(JSON.stringify({ type: 'retire', occurredAt: 'not a time' })) : undefined;
      answers.push(await send(agent, port, { method: body ? 'POST' : 'GET', path, key: MDM_KEY, ...(body ? { body } : {}) }));
    }
    assert.deepEqual(
      answers.map((a) => [a.status, a.headers.connection]),
      [
        [200, 'keep-alive'],
        [200, 'keep-alive'],
        [400, 'keep-alive'],
      ],
    );
    assert.equal(new Set(answers.map((a) => a.localPort)).size, 1, 'one connection');
    // Over the real server too, every response carries its request id (the one its log line names).
    const ids = answers.map((a) => a.headers['x-request-id']);
    for (const [i, a] of answers.entries()) {
      assert.match(String(a.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      assert.equal(a.headers['x-content-type-options'], 'nosniff');
      const line = api.logs.map((l) => JSON.parse(l) as { reqId?: string; msg?: string; status?: number }).find((l) => l.reqId === ids[i]);
      assert.deepEqual([line?.msg, line?.status], ['request', a.status]);
    }
  });

  it('answers 413 to a 2 MiB body with a Content-Length, keeps the connection alive, and answers the next request on it', async () => {
    const first = await send(agent, port, {
      method: 'POST',
      path: '/v1/devices/mdm-1/events',
      body: oversize(2 * MAX_BODY_BYTES),
      key: MDM_KEY,
    });
    assert.equal(first.status, 413, first.body);
    assert.equal(first.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(first.body).type, 'https://azure-compliance-connector/problems/payload-too-large');
    assert.equal(first.headers.connection, 'keep-alive', 'the rest of the body is read and discarded, so the connection is kept');

    const next = await send(agent, port, { method: 'GET', path: '/healthz' });
    assert.equal(next.status, 200);
    assert.deepEqual(JSON.parse(next.body), { status: 'ok' });
    assert.equal(next.localPort, first.localPort, 'the same connection answered');
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  it('answers 413 to a chunked body over 1 MiB with Connection: close, and the next request is answered (on a new connection)', async () => {
    const first = await send(agent, port, {
      method: 'POST',
      path: '/v1/devices/mdm-1/events',
      body: oversize(3 * MAX_BODY_BYTES),
      chunked: true,
      key: MDM_KEY,
    });
    assert.equal(first.status, 413, first.body);
    assert.equal(first.headers.connection, 'close', 'no length announced: the server says it closes');
    const next = await send(agent, port, { method: 'GET', path: '/healthz' });
    assert.equal(next.status, 200);
    assert.notEqual(next.localPort, first.localPort, 'the client opened a new connection, as Connection: close told it');
  });

  it('after a Connection: close 413 the server closes gracefully: it reads what the client still sends instead of resetting the connection', async () => {
    // A raw client, so it can go on sending the body after the answer (as a client that writes its
    // whole body before reading does). Closing with unread bytes would reset the connection: the client
    // would see ECONNRESET (and a real network could drop the 413 itself).
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const events: string[] = [];
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('end', () => events.push('end'));
    socket.on('error', (err: NodeJS.ErrnoException) => events.push(`error ${err.code ?? err.message}`));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const writeChunk = () => socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    socket.write(
      `POST /v1/devices/mdm-1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${MDM_KEY}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    for (let i = 0; i < 24; i++) writeChunk(); // 1.5 MiB
    while (!/\r\n\r\n[\s\S]*"status":413/.test(received)) await new Promise((r) => setTimeout(r, 10));
    assert.match(received, /^HTTP\/1\.1 413 /);
    assert.match(received, /\r\nconnection: close\r\n/i);
    // The rest of the body, after the answer.
    for (let i = 0; i < 16; i++) {
      writeChunk();
      await new Promise((r) => setTimeout(r, 5));
    }
    socket.end('0\r\n\r\n');
    await closed;
    assert.deepEqual(events, ['end'], 'a clean close (FIN), no reset');
  });

  it('answers Connection: close to a body announced larger than what the server will discard', async () => {
    // Announce more than DISCARD_LIMIT_BYTES but send 4 MiB only: the server must not wait for the rest.
    const res = await new Promise<Answer>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/events',
          agent,
          headers: {
            'Content-Type': 'application/json',
            Authorization: `Bearer ${MDM_KEY}`,
            'Content-Length': String(DISCARD_LIMIT_BYTES + 1),
          },
        },
        (r) => {
          const localPort = r.socket.localPort ?? 0;
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () =>
            resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks).toString('utf8'), localPort }),
          );
        },
      );
      req.on('error', (err) =>
        err.message.includes('socket hang up') || (err as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(err),
      );
      req.write(oversize(4 * MAX_BODY_BYTES));
    });
    assert.equal(res.status, 413, res.body);
    assert.equal(res.headers.connection, 'close');
    const next = await send(agent, port, { method: 'GET', path: '/healthz' });
    assert.equal(next.status, 200);
  });

  it('several oversize posts at once, mixed with small requests: every oversize one gets its 413, every other its answer', async () => {
    const requests: Array<Promise<Answer>> = [];
    const expected: number[] = [];
    for (let i = 0; i < 6; i++) {
      requests.push(
        send(agent, port, {
          method: 'POST',
          path: `/v1/devices/mdm-${i}/events`,
          body: oversize(MAX_BODY_BYTES + 1 + i * 100_000),
          chunked: i % 2 === 1,
          key: MDM_KEY,
        }),
      );
      expected.push(413);
      requests.push(send(agent, port, { method: 'POST', path: '/v1/events', body: oversize(2 * MAX_BODY_BYTES), key: MDM_KEY }));
      expected.push(413);
      requests.push(send(agent, port, { method: 'GET', path: '/healthz' }));
      expected.push(200);
    }
    const answers = await Promise.all(requests);
    assert.deepEqual(
      answers.map((a) => a.status),
      expected,
    );
    for (const a of answers.filter((x) => x.status === 413)) assert.equal(JSON.parse(a.body).status, 413);
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  it('an unauthenticated oversize post gets its 401 and the connection its next answer', async () => {
    const first = await send(agent, port, { method: 'POST', path: '/v1/devices/mdm-1/events', body: oversize(2 * MAX_BODY_BYTES) });
    assert.equal(first.status, 401);
    const next = await send(agent, port, { method: 'GET', path: '/healthz' });
    assert.equal(next.status, 200);
    assert.equal(next.localPort, first.localPort);
  });
});
