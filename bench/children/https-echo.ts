/**
 * A bare HTTPS server for bench/transport-cost.ts: a certificate from the emulator's CA, every
 * request answered 200 with a small JSON body, Graph-like. Prints `{ "url" }` once it listens.
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ensureCa, issueServerCert } from '../../emulator/ca';

const BODY = JSON.stringify({
  '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
  id: '6e7b768e-07e2-4810-8459-485f84f8f204',
  userPrincipalName: 'adele@contoso.example',
});

const { certPem, keyPem } = issueServerCert(ensureCa());
const server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'request-id': '1f0e5c4a-6b0f-4f7e-9d8e-0a1b2c3d4e5f' });
    res.end(BODY);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `https://localhost:${(server.address() as AddressInfo).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
