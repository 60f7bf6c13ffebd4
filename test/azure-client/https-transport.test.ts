// The transport of the Graph and partner-API calls (activities/azure/https-transport.ts) against a
// real HTTPS server whose certificate the emulator's CA signed: what it sends, what it returns,
// the connections it keeps, and how it fails.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from '@microsoft/microsoft-graph-client';
import { ensureCa, issueServerCert } from '../../emulator/ca';
import { httpsSend, TransportError } from '../../activities/azure/https-transport';
import { HttpsMessageHandler } from '../../activities/azure/graph';
import { freePort } from '../../lib/ports';
import { requireTrustedCa } from './helpers';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

describe('Azure client: HTTPS transport', () => {
  let server: Server;
  let base = '';
  let connections = 0;
  let handler: Handler = (_req, _body, res) => res.end('{}');

  before(async () => {
    requireTrustedCa();
    const { certPem, keyPem } = issueServerCert(ensureCa());
    server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://localhost:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    server.closeAllConnections();
    connections = 0;
  });

  it('sends method, headers and body, and returns status, headers (repeated ones joined) and text', async () => {
    let seen: { method?: string; auth?: string; length?: string; body?: string } = {};
    handler = (req, body, res) => {
      seen = { method: req.method, auth: req.headers.authorization, length: req.headers['content-length'], body };
      res.setHeader('Retry-After', '7');
      res.setHeader('X-Many', ['a', 'b']);
      res.writeHead(429, { 'Content-Type': 'application/json' });
      res.end('{"error":"é"}');
    };
    const r = await httpsSend(`${base}/x`, { method: 'PUT', headers: { Authorization: 'Bearer t' }, body: '{"v":"é"}', timeoutMs: 5000 });
    assert.deepEqual(seen, { method: 'PUT', auth: 'Bearer t', length: String(Buffer.byteLength('{"v":"é"}')), body: '{"v":"é"}' });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '7');
    assert.equal(r.headers.get('Retry-After'), '7');
    assert.equal(r.headers.get('x-many'), 'a, b');
    assert.equal(r.headers.get('absent'), null);
    assert.equal(r.text, '{"error":"é"}');
  });

  it('keeps one connection for calls in sequence', async () => {
    handler = (_req, _body, res) => res.end('{}');
    for (let i = 0; i < 5; i++) await httpsSend(`${base}/seq`, { method: 'GET', headers: {}, timeoutMs: 5000 });
    assert.equal(connections, 1);
  });

  it('opens a new connection when the server closed the idle one', async () => {
    handler = (_req, _body, res) => res.end('{}');
    await httpsSend(`${base}/a`, { method: 'GET', headers: {}, timeoutMs: 5000 });
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const r = await httpsSend(`${base}/b`, { method: 'GET', headers: {}, timeoutMs: 5000 });
    assert.equal(r.status, 200);
    assert.equal(connections, 2);
  });

  it('sends once more on a new connection when a kept one fails before any answer, and only once', async () => {
    let requests = 0;
    handler = (req, _body, res) => {
      requests++;
      if (requests === 2)
        req.socket.destroy(); // the kept connection dies under the second call
      else res.end('{}');
    };
    await httpsSend(`${base}/1`, { method: 'PUT', headers: {}, body: '{}', timeoutMs: 5000 });
    const r = await httpsSend(`${base}/2`, { method: 'PUT', headers: {}, body: '{}', timeoutMs: 5000 });
    assert.equal(r.status, 200);
    assert.deepEqual([requests, connections], [3, 2]);

    handler = (req) => req.socket.destroy(); // every connection dies: one retry, then the error
    requests = 0;
    const err = await httpsSend(`${base}/3`, { method: 'GET', headers: {}, timeoutMs: 5000 }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as TransportError,
    );
    assert.equal(err.name, 'TransportError');
    assert.equal(connections, 3);
  });

  it('fails with a TimeoutError naming the deadline when no answer comes in time', async () => {
    handler = () => undefined; // never answers
    const err = await httpsSend(`${base}/slow`, { method: 'GET', headers: {}, timeoutMs: 200 }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TransportError);
    assert.equal(err.name, 'TimeoutError');
    assert.match(err.message, /timed out after 200 ms/);
  });

  it('fails with the socket error as cause when the connection is refused', async () => {
    const err = await httpsSend(`https://localhost:${await freePort()}/x`, { method: 'GET', headers: {}, timeoutMs: 5000 }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as TransportError,
    );
    assert.equal(err.name, 'TransportError');
    assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
  });

  it('fails when the server drops the connection mid-response', async () => {
    handler = (req, _body, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 20);
    };
    const err = await httpsSend(`${base}/drop`, { method: 'GET', headers: {}, timeoutMs: 5000 }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as TransportError,
    );
    assert.equal(err.name, 'TransportError');
  });

  it("gives the Graph client a Response, with no body for a 204, and the SDK's headers sent", async () => {
    let auth: string | undefined;
    handler = (req, _body, res) => {
      auth = req.headers.authorization;
      res.writeHead(req.url === '/empty' ? 204 : 200, { 'Content-Type': 'application/json' });
      res.end(req.url === '/empty' ? undefined : '{"value":[1]}');
    };
    const send = new HttpsMessageHandler(5000);
    const ok: Context = { request: `${base}/json`, options: { method: 'GET', headers: { Authorization: 'Bearer g' } } };
    await send.execute(ok);
    assert.equal(auth, 'Bearer g');
    assert.equal(ok.response?.status, 200);
    assert.deepEqual(await ok.response?.json(), { value: [1] });
    const empty: Context = { request: `${base}/empty`, options: { method: 'GET', headers: {} } };
    await send.execute(empty);
    assert.equal(empty.response?.status, 204);
    assert.equal(await empty.response?.text(), '');
  });
});
