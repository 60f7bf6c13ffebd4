// Shared setup for the Microsoft-client tests: one emulator per test file, and a fresh tenant (with
// its own app, user and device) per test, so tests never share a token cache or Entra state.
import { randomUUID } from 'node:crypto';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator';
import type { AzureCredentials } from '../../config';
import type { DeviceUpload } from '../../activities/azure/client';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const INTUNE_SCOPE = 'https://api.manage.microsoft.com//.default';

export function requireTrustedCa(): void {
  if (!process.env.NODE_EXTRA_CA_CERTS) {
    throw new Error(
      'NODE_EXTRA_CA_CERTS is not set: run `npx tsx emulator/ensure-ca.ts` and start mocha with NODE_EXTRA_CA_CERTS=$PWD/.data/azure-emulator/ca.pem',
    );
  }
}

export async function startTestEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  requireTrustedCa();
  return startEmulator({ port: 0, ...opts });
}

/**
 * Registers the hooks the emulator-backed client tests share: one emulator for the file (closed after
 * it) and, before each test, no faults and an empty journal. The emulator is read through the getter.
 */
export function useTestEmulator(opts: EmulatorOptions = {}): { readonly emu: RunningEmulator } {
  let emu: RunningEmulator | undefined;

  before(async () => {
    emu = await startTestEmulator(opts);
  });
  after(async () => {
    await emu?.close();
  });
  beforeEach(async () => {
    await emu!.control.clearFaults();
    await emu!.control.clearRequests();
  });

  return {
    get emu() {
      return emu!;
    },
  };
}

export interface World {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  user: { id: string; upn: string };
  device: { deviceId: string; displayName: string };
  cfg: AzureCredentials;
}

/** Seeds a new tenant with one app (default roles), one user and one iOS device. */
export async function newWorld(emu: RunningEmulator, overrides: Partial<AzureCredentials> = {}): Promise<World> {
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = `secret-${randomUUID()}`;
  const user = { id: randomUUID(), upn: `alice.${tenantId.slice(0, 8)}@contoso.example` };
  const device = { deviceId: randomUUID(), displayName: "Alice's iPhone" };
  await emu.control.seed({
    tenants: [
      {
        tenantId,
        apps: [{ clientId, clientSecret }],
        users: [{ id: user.id, userPrincipalName: user.upn }],
        devices: [{ deviceId: device.deviceId, displayName: device.displayName, operatingSystem: 'iOS' }],
      },
    ],
  });
  return {
    tenantId,
    clientId,
    clientSecret,
    user,
    device,
    cfg: { tenantId, clientId, clientSecret, authorityHost: emu.url, graphBaseUrl: emu.url, ...overrides },
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A logger that keeps every line, to check what the client logs (and that it never logs secrets). */
export function memoryLogger(): {
  lines: Array<{ level: string; obj: object; msg?: string }>;
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
} {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
  };
}

/** An upload of the world's device by its user, with full inventory unless `overrides` say otherwise. */
export function deviceUpload(w: World, overrides: Partial<DeviceUpload> = {}): DeviceUpload {
  return {
    messageId: randomUUID(),
    azureDeviceId: w.device.deviceId,
    userPrincipalName: w.user.upn,
    managementState: 'managed',
    complianceStatus: 'compliant',
    inventory: {
      deviceName: "Alice's iPhone 15",
      os: 'iOS',
      osVersion: '17.5.1',
      model: 'iPhone15,4',
      manufacturer: 'Apple',
      serialNumber: 'F2LZK0ABCD12',
    },
    platform: 'iOS',
    lastCheckInTime: '2026-03-02T09:15:00.000Z',
    lastUpdateTime: '2026-03-02T09:14:30.000Z',
    ...overrides,
  };
}
