/**
 * The local Azure emulator as `npm start` uses it: one partner app consented in two tenants (the
 * connector's own, and a second one to onboard, so the multi-tenant path can be tried), whose ids
 * are generated once and kept (so restarts keep the same tenants and their device rows stay
 * meaningful), seeded over the emulator's control plane, and the CA the worker must trust.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { SeedSpec } from '../../emulator/types';

export interface LocalTenant {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** A second customer tenant where the same app has consent, ready to be onboarded. */
  secondTenantId: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `<dir>/tenant.json` (mode 0600), created on first use. */
export function loadOrCreateTenant(dir: string): LocalTenant & { file: string; created: boolean } {
  const file = path.join(dir, 'tenant.json');
  if (existsSync(file)) {
    try {
      const t = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalTenant>;
      if (GUID.test(t.tenantId ?? '') && GUID.test(t.clientId ?? '') && typeof t.clientSecret === 'string' && t.clientSecret) {
        const kept = { tenantId: t.tenantId!, clientId: t.clientId!, clientSecret: t.clientSecret };
        // A file from before the second tenant existed gains one; the first tenant stays as it was.
        if (GUID.test(t.secondTenantId ?? '')) return { ...kept, secondTenantId: t.secondTenantId!, file, created: false };
        const upgraded = { ...kept, secondTenantId: randomUUID() };
        writeTenantFile(file, upgraded);
        return { ...upgraded, file, created: false };
      }
    } catch {
      // rewritten below
    }
  }
  const tenant: LocalTenant = {
    tenantId: randomUUID(),
    clientId: randomUUID(),
    clientSecret: randomBytes(30).toString('base64url'),
    secondTenantId: randomUUID(),
  };
  writeTenantFile(file, tenant);
  return { ...tenant, file, created: true };
}

function writeTenantFile(file: string, tenant: LocalTenant): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(tenant, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * POST /_emulator/seed. Through node:https with the CA given explicitly: this process started
 * before the CA existed, so NODE_EXTRA_CA_CERTS cannot help it (EmulatorControl uses global fetch).
 */
export function seedTenant(emulatorUrl: string, caPem: string, tenant: LocalTenant): Promise<void> {
  const app = { clientId: tenant.clientId, clientSecret: tenant.clientSecret };
  const spec: SeedSpec = {
    tenants: [
      { tenantId: tenant.tenantId, displayName: 'Contoso (local)', apps: [app] },
      { tenantId: tenant.secondTenantId, displayName: 'Fabrikam (local)', apps: [app] },
    ],
  };
  const body = JSON.stringify(spec);
  const url = new URL('/_emulator/seed', emulatorUrl);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        ca: caPem,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) resolve();
          else reject(new Error(`seeding the Azure emulator failed with ${res.statusCode}: ${text.slice(0, 300)}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('seeding the Azure emulator timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The file the worker's NODE_EXTRA_CA_CERTS points at: the emulator CA, plus whatever bundle the
 * user already trusts through NODE_EXTRA_CA_CERTS (Node reads only one file).
 */
export function caBundleFor(dir: string, emulatorCaPath: string, existing: string | undefined): string {
  if (!existing || path.resolve(existing) === path.resolve(emulatorCaPath) || !existsSync(existing)) return emulatorCaPath;
  const bundle = path.join(dir, 'ca-bundle.pem');
  mkdirSync(dir, { recursive: true });
  const text = `${readFileSync(existing, 'utf8').trimEnd()}\n${readFileSync(emulatorCaPath, 'utf8')}`;
  writeFileSync(bundle, text);
  return bundle;
}
