/**
 * The client CPU of one Microsoft call, by transport (docs/benchmarks.md, "The Microsoft calls
 * without `fetch`"): the same small JSON request to a bare HTTPS server (a child process, so its CPU
 * is not counted) sent N times, 8 in flight, each way in turn for several rounds:
 *   - `fetch`, as the partner-API calls were sent;
 *   - `httpsSend` (activities/azure/https-transport.ts), as they are sent now;
 *   - a Graph GET through the SDK's default last handler (`HTTPMessageHandler`, `fetch`);
 *   - the same Graph GET through our chain (`createGraphClient`: `HttpsMessageHandler`).
 * Prints µs of this process's CPU per call, and the median of the rounds as JSON.
 *   npx tsx bench/transport-cost.ts [--requests 3000] [--rounds 4]
 */
import { randomUUID } from 'node:crypto';
import {
  AuthenticationHandler,
  Client,
  HTTPMessageHandler,
  RedirectHandler,
  RedirectHandlerOptions,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { createGraphClient } from '../activities/azure/graph';
import { httpsSend } from '../activities/azure/https-transport';
import { reexecWithCa } from './lib/ca';
import { startChild } from './lib/child';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

const TOKEN = 'x'.repeat(1200); // about the size of a real access token
const BODY = JSON.stringify({ DeviceId: randomUUID(), IsCompliant: true, Inventory: { Model: 'iPhone 15', OsVersion: '17.4.1' } });

function partnerHeaders(): Record<string, string> {
  return {
    Authorization: `Bearer ${TOKEN}`,
    Accept: 'application/json',
    'client-request-id': randomUUID(),
    'Content-Type': 'application/json',
  };
}

async function main(): Promise<void> {
  if (reexecWithCa()) return;
  const requests = arg('requests', 3000);
  const rounds = arg('rounds', 4);
  const server = startChild({ name: 'https-echo', script: 'bench/children/https-echo.ts', env: process.env });
  try {
    const { url } = await server.waitForLine((l) => (l.startsWith('{') ? (JSON.parse(l) as { url: string }) : undefined), 30_000);
    const auth = { getAccessToken: async () => TOKEN };
    const customHosts = new Set(['localhost']);
    const sdkDefault = Client.initWithMiddleware({
      baseUrl: `${url}/`,
      customHosts,
      middleware: [
        new AuthenticationHandler(auth),
        new RedirectHandler(new RedirectHandlerOptions()),
        new TelemetryHandler(),
        new HTTPMessageHandler(),
      ],
    });
    const ours = createGraphClient({ graphBaseUrl: url, timeoutMs: 30_000, authProvider: auth });
    const ways: Record<string, () => Promise<unknown>> = {
      fetch: async () => {
        const r = await fetch(`${url}/DataUploadMessages`, {
          method: 'PUT',
          headers: partnerHeaders(),
          body: BODY,
          signal: AbortSignal.timeout(30_000),
        });
        return JSON.parse(await r.text());
      },
      httpsSend: async () => {
        const r = await httpsSend(`${url}/DataUploadMessages`, { method: 'PUT', headers: partnerHeaders(), body: BODY, timeoutMs: 30_000 });
        return JSON.parse(r.text);
      },
      'graph, SDK default (fetch)': () => sdkDefault.api("/users('adele@contoso.example')").get(),
      'graph, ours (https)': () => ours.api("/users('adele@contoso.example')").get(),
    };
    const cost = async (send: () => Promise<unknown>, n: number): Promise<number> => {
      let next = 0;
      const before = process.cpuUsage();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next++ < n) await send();
        }),
      );
      const used = process.cpuUsage(before);
      return (used.user + used.system) / n;
    };
    for (const send of Object.values(ways)) await cost(send, Math.min(500, requests)); // warm-up
    const perRound: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
    for (let r = 1; r <= rounds; r++) {
      const line: string[] = [];
      for (const [name, send] of Object.entries(ways)) {
        const us = await cost(send, requests);
        perRound[name]!.push(us);
        line.push(`${name} ${us.toFixed(0)}`);
      }
      console.log(`round ${r}, µs of client CPU per call: ${line.join('; ')}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      JSON.stringify({
        requests,
        rounds,
        medianMicrosecondsPerCall: Object.fromEntries(Object.entries(perRound).map(([k, v]) => [k, Math.round(median(v))])),
      }),
    );
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
