// Pure units of the Microsoft client: the failure mapping (*-errors.ts, temporal-failure.ts), the P4 entities
// (entities.ts) and the Graph client's customHosts (graph.ts). Everything with I/O is tested
// against the emulator in the other files.
import { strict as assert } from 'node:assert';
import { ApplicationFailure } from '@temporalio/common';
import { AzureApiError } from '../../activities/azure/errors';
import { fromHttpResponse, parseRetryAfter } from '../../activities/azure/http-errors';
import { toTemporalFailure } from '../../activities/azure/temporal-failure';
import { describeUploadFailure } from '../../activities/azure/upload-errors';
import { FAILURE_REASONS, isRetryableReason } from '../../domain/failure-reasons';
import { buildUploadEntities, type DeviceUpload } from '../../activities/azure/entities';
import { customHostsFor } from '../../activities/azure/graph';

const DEVICE = '3f2b9c4e-1d2a-4b7c-9e8f-0a1b2c3d4e5f';
const TENANT = 'a1b2c3d4-0000-4000-8000-000000000001';
const USER = 'b2c3d4e5-0000-4000-8000-000000000002';

function headers(h: Record<string, string>): { get(n: string): string | null } {
  const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (n) => lower[n.toLowerCase()] ?? null };
}

describe('Azure client: failure mapping (pure)', () => {
  it('parses Retry-After as seconds or an HTTP-date, never negative', () => {
    const now = Date.parse('2026-03-02T10:00:00.000Z');
    assert.equal(parseRetryAfter('2', now), 2000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('1.5', now), 1500);
    assert.equal(parseRetryAfter('Mon, 02 Mar 2026 10:00:07 GMT', now), 7000);
    assert.equal(parseRetryAfter('Mon, 02 Mar 2026 09:59:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), null);
    assert.equal(parseRetryAfter('', now), null);
    assert.equal(parseRetryAfter(null, now), null);
  });

  it('retries exactly Throttled, Transient, Unauthorized and StatusTimeout; every other reason is permanent', () => {
    assert.deepEqual(
      FAILURE_REASONS.filter((r) => isRetryableReason(r)),
      ['Throttled', 'Transient', 'Unauthorized', 'StatusTimeout'],
    );
  });

  const statusCases: Array<[number, Record<string, string>, string, boolean, number | undefined]> = [
    [429, { 'Retry-After': '2' }, 'Throttled', false, 2000],
    [429, {}, 'Throttled', false, undefined],
    [503, { 'Retry-After': '5' }, 'Throttled', false, 5000],
    [504, { 'Retry-After': '1' }, 'Throttled', false, 1000],
    [503, {}, 'Transient', false, undefined],
    [500, {}, 'Transient', false, undefined],
    [502, {}, 'Transient', false, undefined],
    [401, {}, 'Unauthorized', false, undefined],
    [400, {}, 'InvalidRequest', true, undefined],
    [403, {}, 'Forbidden', true, undefined],
    [404, {}, 'InvalidRequest', true, undefined],
    [409, {}, 'InvalidRequest', true, undefined],
  ];
  for (const [status, h, type, nonRetryable, delay] of statusCases) {
    it(`HTTP ${status}${h['Retry-After'] ? ` with Retry-After ${h['Retry-After']}` : ''} → ${type}${nonRetryable ? ' (non-retryable)' : ''}`, () => {
      const err = fromHttpResponse(
        'graph',
        status,
        headers(h),
        { error: { code: 'SomeCode', message: 'Some message.' } },
        { operation: 'resolveUserId', request: 'GET /v1.0/users(…)' },
      );
      const f = toTemporalFailure(err, { deviceId: DEVICE });
      assert.equal(f.type, type);
      assert.equal(f.nonRetryable, nonRetryable);
      assert.equal(f.nextRetryDelay, delay);
      assert.deepEqual(f.details, [{ reason: err.reason, status, code: 'SomeCode', message: f.message, deviceId: DEVICE }]);
      assert.ok(f.message.includes(DEVICE));
      assert.ok(f.message.includes(`HTTP ${status}`));
    });
  }

  it('maps a 404 to the reason the caller names (unknown device or user) with a message naming it', () => {
    const err = fromHttpResponse(
      'graph',
      404,
      headers({}),
      { error: { code: 'Request_ResourceNotFound', message: 'Resource … does not exist' } },
      {
        operation: 'lookupDevice',
        deviceId: DEVICE,
        notFoundReason: 'DeviceNotFound',
      },
    );
    const f = toTemporalFailure(err);
    assert.equal(f.type, 'DeviceNotFound');
    assert.equal(f.nonRetryable, true);
    assert.equal(
      f.message,
      `lookupDevice: Entra ID has no device ${DEVICE} (Microsoft Graph lookupDevice returned HTTP 404 Request_ResourceNotFound)`,
    );
  });

  it('classifies the ErrorDetail of a Failed upload message', () => {
    const cases: Array<[string, string]> = [
      [`Device '${DEVICE}' was not found in tenant '${TENANT}'.`, 'DeviceNotFound'],
      [`User '${USER}' was not found in tenant '${TENANT}'.`, 'UserNotFound'],
      ['Unknown device 1234.', 'DeviceNotFound'],
      ['The user does not exist in the directory.', 'UserNotFound'],
      [
        `Tenant '${TENANT}' is not provisioned for partner compliance (PartnerTenants Provisioned is 0, expected 1).`,
        'TenantNotProvisioned',
      ],
      [
        `Entity 0 (EntityType 1, DeviceId '${DEVICE}'): required field 'DeviceName' is missing or not a non-empty string.`,
        'UploadRejected',
      ],
      [
        `Entity 1 (EntityType 4, DeviceId '${DEVICE}'): invalid value "bad" for 'complianceStatus' (expected 'compliant' or 'notCompliant').`,
        'UploadRejected',
      ],
      ['', 'UploadRejected'],
    ];
    for (const [detail, reason] of cases) assert.equal(describeUploadFailure(detail).reason, reason, detail);
    assert.equal(describeUploadFailure('Something broke.').message, 'Intune rejected the report: Something broke.');
  });

  it('passes an ApplicationFailure through and maps anything unknown to a retryable Transient', () => {
    const already = ApplicationFailure.create({ type: 'Whatever', nonRetryable: true });
    assert.equal(toTemporalFailure(already), already);
    const f = toTemporalFailure(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }), {
      deviceId: DEVICE,
      operation: 'reportDevice',
    });
    assert.equal(f.type, 'Transient');
    assert.equal(f.nonRetryable, false);
    assert.ok(f.message.includes('ECONNRESET') && f.message.includes(DEVICE), f.message);
  });

  it('keeps the typed error as the cause', () => {
    const err = new AzureApiError({
      service: 'intune',
      reason: 'Forbidden',
      status: 403,
      code: 'Forbidden',
      message: 'no',
      deviceId: DEVICE,
    });
    const f = toTemporalFailure(err);
    assert.equal(f.cause, err);
    assert.equal(err.retryable, false);
  });
});

describe('Azure client: upload entities (pure)', () => {
  const base: DeviceUpload = {
    messageId: 'c0ffee00-0000-4000-8000-000000000000',
    azureDeviceId: DEVICE,
    userPrincipalName: 'alice@contoso.example',
    managementState: 'notManaged',
    complianceStatus: 'notCompliant',
    inventory: { deviceName: 'Pixel 8', os: 'Android', osVersion: '14', serialNumber: 'SN1', extra: 42 },
    platform: 'Android',
    lastCheckInTime: '2026-03-02T09:00:00.000Z',
    lastUpdateTime: '2026-03-02T09:01:00.000Z',
  };

  it('builds the inventory and compliance entities of a P4 upload, forwarding serial/model/manufacturer only', () => {
    assert.deepEqual(buildUploadEntities(TENANT, USER, base), [
      {
        EntityType: 1,
        TenantId: TENANT,
        DeviceId: DEVICE,
        DeviceName: 'Pixel 8',
        UserId: USER,
        DeviceManagementState: 'notManaged',
        LastCheckInTime: '2026-03-02T09:00:00.000Z',
        LastUpdateTime: '2026-03-02T09:01:00.000Z',
        Os: 'Android',
        OsVersion: '14',
        EasIds: [],
        State: 0,
        SerialNumber: 'SN1',
      },
      {
        EntityType: 4,
        TenantId: TENANT,
        DeviceId: DEVICE,
        UserId: USER,
        LastUpdateTime: '2026-03-02T09:01:00.000Z',
        complianceStatus: 'notCompliant',
      },
    ]);
  });

  it('without inventory: Entra name (else the device id), platform as Os (else Entra OS, else Unknown), empty OsVersion', () => {
    const pick = (u: DeviceUpload, known?: { displayName?: string | null; operatingSystem?: string | null }): [string, string, string] => {
      const [inv] = buildUploadEntities(TENANT, USER, u, known);
      return [inv.DeviceName, inv.Os, inv.OsVersion];
    };
    assert.deepEqual(pick({ ...base, inventory: null }, { displayName: "Bob's Pixel", operatingSystem: 'AndroidForWork' }), [
      "Bob's Pixel",
      'Android',
      '',
    ]);
    assert.deepEqual(pick({ ...base, inventory: null, platform: null }, { displayName: null, operatingSystem: 'iOS' }), [
      DEVICE,
      'iOS',
      '',
    ]);
    assert.deepEqual(pick({ ...base, inventory: null, platform: null }), [DEVICE, 'Unknown', '']);
  });
});

describe('Azure client: Graph client configuration (pure)', () => {
  it('adds the base URL host name (without port) to customHosts only when it is not a Graph host', () => {
    assert.deepEqual(customHostsFor('https://localhost:9443'), new Set(['localhost']));
    assert.deepEqual(customHostsFor('https://graph-proxy.corp.example/'), new Set(['graph-proxy.corp.example']));
    assert.equal(customHostsFor('https://graph.microsoft.com'), undefined);
    assert.equal(customHostsFor('https://graph.microsoft.us/'), undefined);
  });
});
