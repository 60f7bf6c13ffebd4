/**
 * Shared pieces of the tenancy tests: the app with an operator key and the partner app's credentials
 * (so consent links can be made), and a customer tenant registered through POST /v1/tenants.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { testEnv } from '../support/env';
import { call, makeApi, type TestApi, type TestApiOptions } from '../api/helpers';

export const OPERATOR_KEY = 'operator-key-for-tests-0123456789abcdef';

export interface TenancyApi extends TestApi {
  /** Schedule changes the routes asked for, with their tenant. */
  pauses: Array<{ paused: boolean; tenantId: string }>;
}

/** The app over the test database, with the operator key and the test partner app (the emulator's). */
export function makeTenancyApi(options: TestApiOptions = {}): TenancyApi {
  const env = testEnv();
  const pauses: TenancyApi['pauses'] = [];
  const api = makeApi({
    schedules: {
      setWeeklyReportPaused: async (paused, tenantId) => {
        pauses.push({ paused, tenantId });
      },
      setReconciliation: async () => undefined,
    },
    ...options,
    env: {
      OPERATOR_API_KEY: OPERATOR_KEY,
      AZURE_TENANT_ID: env.azure.tenantId,
      AZURE_CLIENT_ID: env.azure.clientId,
      AZURE_CLIENT_SECRET: env.azure.clientSecret,
      AZURE_AUTHORITY_HOST: env.azure.authorityHost,
      GRAPH_BASE_URL: env.azure.graphBaseUrl,
      ...options.env,
    },
  });
  return { ...api, pauses };
}

export const bearer = (key: string) => `Bearer ${key}`;

export interface RegisteredTenant {
  tenantId: string;
  displayName: string;
  consentUrl: URL;
  mdmKey: string;
  adminKey: string;
}

/** A new customer tenant, registered by the operator: `pending-consent`, with its consent link and keys. */
export async function registerTenant(api: TestApi, displayName = 'Contoso'): Promise<RegisteredTenant> {
  const tenantId = randomUUID();
  const res = await call(api.app, 'POST', '/v1/tenants', { key: bearer(OPERATOR_KEY), body: { tenantId, displayName } });
  assert.equal(res.status, 201, await res.clone().text());
  const body = (await res.json()) as { tenantId: string; state: string; consentUrl: string; mdmApiKey: string; adminApiKey: string };
  assert.equal(body.state, 'pending-consent');
  return { tenantId, displayName, consentUrl: new URL(body.consentUrl), mdmKey: body.mdmApiKey, adminKey: body.adminApiKey };
}

/** Microsoft's redirect back to the connector after the consent page, as the browser follows it. */
export function consentCallback(api: TestApi, params: Record<string, string>): Promise<Response> {
  return call(api.app, 'GET', `/v1/tenants/consent-callback?${new URLSearchParams(params).toString()}`);
}
