/**
 * Experiment (not part of `npm run bench`): the read floor with one layer of the API's request
 * pipeline added at a time, to see what each costs under wrk. argv: <database url> <tenant id>
 * <layers, comma-separated: knex,prepared,openapi,auth,context,guard,map>. Prints `{ "port": N }`.
 * `prepared`: the query as a named statement, prepared once per connection, as the API's device read is.
 */
import { serve } from '@hono/node-server';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { Hono } from 'hono';
import pg from 'pg';
import { createKeyResolver, requireRole } from '../../api/auth';
import { createGuards, DEFAULT_TIMEOUTS } from '../../api/dependencies';
import { createApiMetrics } from '../../api/metrics';
import { toDeviceDetails } from '../../api/routes/devices';
import { DeviceIdParamSchema } from '../../api/schemas';
import { createDb, pooledQuery } from '../../db';
import { toDeviceRow } from '../../db/data';
import { createLogger } from '../../lib/logger';

const [databaseUrl, tenantId, layerList = ''] = process.argv.slice(2);
const layers = new Set(layerList.split(',').filter(Boolean));
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const db = createDb(databaseUrl!, { max: 10 });
const guard = createGuards({} as never, DEFAULT_TIMEOUTS);
const logger = createLogger('info', { service: 'api' });
const metrics = createApiMetrics();
// The configured keys only: a tenant's own key would be looked up in Postgres (and then remembered).
const auth = requireRole(
  createKeyResolver({
    keys: { admin: 'k'.repeat(43), mdm: 'm'.repeat(43) },
    envTenantId: tenantId!,
    findKey: async () => null,
    findTenant: async () => 'active',
  }),
  'admin',
);

const text = 'select * from devices where tenant_id = $1 and device_id = $2 limit 1';
const name = layers.has('prepared') ? 'device-by-id' : undefined;
const query = async (id: string) => {
  const run = () =>
    layers.has('knex')
      ? pooledQuery(db, text, [tenantId, id], name)
      : pool.query({ text, values: [tenantId, id], ...(name ? { name } : {}) }).then((r) => r.rows);
  return layers.has('guard') ? guard.db(run) : run();
};
const body = (row: Record<string, unknown>) => (layers.has('map') ? toDeviceDetails(toDeviceRow(row as never), true) : row);

const app = layers.has('openapi') ? new OpenAPIHono() : new Hono();
if (layers.has('context')) {
  (app as Hono).use('*', async (c, next) => {
    const started = process.hrtime.bigint();
    const requestId = crypto.randomUUID();
    c.header('X-Request-Id', requestId);
    c.header('X-Content-Type-Options', 'nosniff');
    await next();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const labels = { route: '/v1/devices/{deviceId}', method: c.req.method, status: String(c.res.status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    logger.info(
      { reqId: requestId, method: c.req.method, path: c.req.path, route: labels.route, status: c.res.status, durationMs: seconds * 1e3 },
      'request',
    );
  });
}
const mw = layers.has('auth') ? [auth] : [];
if (app instanceof OpenAPIHono) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/devices/{deviceId}',
      middleware: mw as never,
      request: { params: DeviceIdParamSchema },
      responses: { 200: { description: 'ok' } },
    }),
    async (c) => {
      const { deviceId } = c.req.valid('param');
      const rows = await query(deviceId);
      return rows.length === 0 ? c.json({ status: 404 }, 404) : c.json(body(rows[0]!), 200);
    },
  );
} else {
  app.get('/v1/devices/:deviceId', ...(mw as []), async (c) => {
    const rows = await query(c.req.param('deviceId'));
    return rows.length === 0 ? c.json({ status: 404 }, 404) : c.json(body(rows[0]!), 200);
  });
}
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`),
);
const stop = (): void => {
  server.close(() => void Promise.all([pool.end(), db.destroy()]).then(() => process.exit(0)));
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
