/**
 * The read path's floor (a child process of the benchmark): a bare Hono route answering
 * GET /v1/devices/:deviceId with the same single-row query as the API's (devices by tenant and
 * device id), through a plain `pg` pool of the same size as the API's knex pool (10). No auth, no
 * validation, no settings read, no logging, no metrics.
 * argv: <database url> <tenant id>. Prints `{ "port": N }` once it listens.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import pg from 'pg';

const [databaseUrl, tenantId] = process.argv.slice(2);
if (!databaseUrl || !tenantId) {
  process.stderr.write('usage: read-server.ts <database url> <tenant id>\n');
  process.exit(2);
}
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const app = new Hono();
app.get('/v1/devices/:deviceId', async (c) => {
  const { rows } = await pool.query('select * from devices where tenant_id = $1 and device_id = $2 limit 1', [
    tenantId,
    c.req.param('deviceId'),
  ]);
  return rows.length === 0 ? c.json({ status: 404 }, 404) : c.json(rows[0], 200);
});
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
});
const stop = (): void => {
  server.close(() => void pool.end().then(() => process.exit(0)));
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
