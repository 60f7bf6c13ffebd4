/**
 * Ports for the servers we start are chosen below the ephemeral range, so the outgoing connections of
 * the processes started meanwhile cannot take them before our server binds.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../../lib/ports';

function ephemeralStart(): number {
  return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
}

describe('free ports', () => {
  it('are below the ephemeral range, distinct, and bindable', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    assert.equal(new Set(ports).size, ports.length, `a port handed out twice: ${ports.join(', ')}`);
    for (const port of ports) assert.ok(port >= 10000 && port < Math.min(ephemeralStart(), 32768), `${port} is in the ephemeral range`);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
