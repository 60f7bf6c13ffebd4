// Admin consent at the emulator: a multi-tenant partner app gets tokens for a tenant only once that
// tenant's administrator has consented (I6), consent can be declined or taken away through the
// control plane, and the journal says which tenant every call was for. Real msal-node and Graph client.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import type { RunningEmulator } from '../../emulator';
import {
  accessToken,
  call,
  GRAPH_SCOPE,
  INTUNE_SCOPE,
  makeCca,
  makeGraph,
  newTenant,
  provision,
  tenantService,
  useEmulatorWithTenant,
  type TestTenant,
} from './helpers';

const REDIRECT_URI = 'https://connector.example.com/v1/tenants/consent-callback';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

/** The admin-consent page as a browser would open it, without following the redirect. */
async function openConsentPage(
  emu: RunningEmulator,
  tenantId: string,
  query: Record<string, string>,
): Promise<{ status: number; location: URL | null; body: Record<string, unknown> | null }> {
  const res = await fetch(`${emu.url}/${tenantId}/adminconsent?${new URLSearchParams(query).toString()}`, { redirect: 'manual' });
  const location = res.headers.get('location');
  const text = await res.text();
  return {
    status: res.status,
    location: location ? new URL(location) : null,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : null,
  };
}

describe('azure emulator: admin consent', () => {
  const env = useEmulatorWithTenant();
  /** A second tenant of the same partner app (env.t's app), added without consent. */
  let other: TestTenant;

  beforeEach(async () => {
    other = { ...env.t, tenantId: randomUUID() };
    const view = await env.emu.control.addTenant(other.tenantId, 'Fabrikam');
    assert.deepEqual([view.tenantId, view.displayName, view.consents, view.consentAnswer], [other.tenantId, 'Fabrikam', [], 'grant']);
  });

  it('refuses tokens for a tenant without consent (AADSTS700016), then issues them once the admin consents through the redirect', async () => {
    const cca = makeCca(env.emu, other);
    const before = await rejection(cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
    assert.ok(before instanceof ServerError);
    assert.deepEqual([before.errorCode, String(before.errorNo)], ['unauthorized_client', '700016']);

    const state = randomUUID();
    const page = await openConsentPage(env.emu, other.tenantId, { client_id: other.clientId, redirect_uri: REDIRECT_URI, state });
    assert.equal(page.status, 302);
    assert.equal(`${page.location!.origin}${page.location!.pathname}`, REDIRECT_URI);
    assert.deepEqual(Object.fromEntries(page.location!.searchParams), { admin_consent: 'True', tenant: other.tenantId, state });

    const token = await accessToken(cca, GRAPH_SCOPE);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { tid: string; appid: string };
    assert.deepEqual([claims.tid, claims.appid], [other.tenantId, other.clientId]);
    const view = await env.emu.control.tenant(other.tenantId);
    assert.deepEqual(
      view.consents.map((c) => c.clientId),
      [other.clientId],
    );
    // The consent page visit is journalled, for the tenant it named.
    const visits = await env.emu.control.requests({ pathIncludes: '/adminconsent' });
    assert.deepEqual(
      visits.map((v) => [v.service, v.status, v.tenantId]),
      [['identity', 302, other.tenantId]],
    );
  });

  it('redirects with access_denied when the admin declines, and consent stays absent', async () => {
    await env.emu.control.setConsentAnswer(other.tenantId, 'decline');
    const state = randomUUID();
    const page = await openConsentPage(env.emu, other.tenantId, { client_id: other.clientId, redirect_uri: REDIRECT_URI, state });
    assert.equal(page.status, 302);
    const q = Object.fromEntries(page.location!.searchParams);
    assert.deepEqual([q.error, q.state, q.admin_consent, q.tenant], ['access_denied', state, undefined, undefined]);
    assert.match(q.error_description ?? '', /^AADSTS65004: /);
    assert.deepEqual((await env.emu.control.tenant(other.tenantId)).consents, []);
    const err = await rejection(makeCca(env.emu, other).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
    assert.ok(err instanceof ServerError);
    assert.equal(err.errorCode, 'unauthorized_client');
  });

  it('answers 400 without a redirect for an unknown app, an unknown tenant, or a reply URL the app does not list', async () => {
    const listed = newTenant();
    await env.emu.control.seed({
      apps: [{ clientId: listed.clientId, clientSecret: listed.clientSecret, redirectUris: [REDIRECT_URI] }],
      tenants: [],
    });
    const cases: Array<[string, Record<string, string>, number]> = [
      [other.tenantId, { client_id: randomUUID(), redirect_uri: REDIRECT_URI }, 700016],
      [randomUUID(), { client_id: other.clientId, redirect_uri: REDIRECT_URI }, 90002],
      [other.tenantId, { client_id: listed.clientId, redirect_uri: 'https://evil.example.com/callback' }, 50011],
      [other.tenantId, { client_id: other.clientId }, 50011],
      [other.tenantId, { redirect_uri: REDIRECT_URI }, 900144],
    ];
    for (const [tenantId, query, code] of cases) {
      const page = await openConsentPage(env.emu, tenantId, query);
      assert.deepEqual([page.status, page.location, page.body?.error_codes], [400, null, [code]], JSON.stringify(query));
    }
    assert.deepEqual((await env.emu.control.tenant(other.tenantId)).consents, []);
    // The reply URL the app lists is accepted, and the app registered without any tenant gets consent.
    const ok = await openConsentPage(env.emu, other.tenantId, { client_id: listed.clientId, redirect_uri: REDIRECT_URI });
    assert.equal(ok.status, 302);
    assert.equal(ok.location!.searchParams.get('state'), null);
    assert.ok(await accessToken(makeCca(env.emu, { ...listed, tenantId: other.tenantId }), GRAPH_SCOPE));
  });

  it('revoking consent (service principal deleted) makes held tokens 401 and new ones AADSTS700016; another tenant is untouched', async () => {
    await env.emu.control.grantConsent(other.tenantId, other.clientId);
    const revokedCca = makeCca(env.emu, other);
    const keptCca = makeCca(env.emu, env.t);
    const revokedGraph = makeGraph(env.emu, revokedCca);
    const keptGraph = makeGraph(env.emu, keptCca);
    const heldIntune = await accessToken(revokedCca, INTUNE_SCOPE);
    await revokedGraph.api(`/servicePrincipals`).get();
    await keptGraph.api(`/servicePrincipals`).get();

    await env.emu.control.revokeConsent(other.tenantId, other.clientId);

    // msal-node still returns its cached token; the emulator refuses it.
    const graphErr = (await rejection(revokedGraph.api('/servicePrincipals').get())) as { statusCode?: number };
    assert.equal(graphErr.statusCode, 401);
    assert.equal((await provision(env.emu, other, heldIntune)).status, 401);
    const fresh = await rejection(revokedCca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], skipCache: true }));
    assert.ok(fresh instanceof ServerError);
    assert.deepEqual([fresh.errorCode, String(fresh.errorNo)], ['unauthorized_client', '700016']);
    const view = await env.emu.control.tenant(other.tenantId);
    assert.deepEqual([view.consents, view.revokedConsents.map((r) => [r.clientId, r.how])], [[], [[other.clientId, 'service-principal']]]);

    // The same app in the first tenant goes on as before, with its cached token.
    assert.ok(await keptGraph.api('/servicePrincipals').get());
    assert.equal((await keptCca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }))?.fromCache, true);

    // Consent granted again: new tokens work, the ones issued before the revocation stay refused.
    await env.emu.control.grantConsent(other.tenantId, other.clientId);
    const renewed = (await revokedCca.acquireTokenByClientCredential({ scopes: [INTUNE_SCOPE], skipCache: true }))!.accessToken;
    assert.equal((await provision(env.emu, other, renewed)).status, 200);
    assert.equal((await provision(env.emu, other, heldIntune)).status, 401);
    assert.deepEqual((await env.emu.control.tenant(other.tenantId)).revokedConsents, []);
  });

  it('revoking only the permissions answers invalid_grant AADSTS65001 (consent_required)', async () => {
    await env.emu.control.grantConsent(other.tenantId, other.clientId);
    await env.emu.control.revokeConsent(other.tenantId, other.clientId, 'permissions');
    const res = await fetch(`${env.emu.url}/${other.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: other.clientId,
        client_secret: other.clientSecret,
        scope: GRAPH_SCOPE,
      }),
    });
    const body = (await res.json()) as { error: string; error_codes: number[]; suberror: string; error_description: string };
    assert.deepEqual([res.status, body.error, body.error_codes, body.suberror], [400, 'invalid_grant', [65001], 'consent_required']);
    assert.match(body.error_description, /^AADSTS65001: The user or administrator has not consented/);
    // msal-node classifies the consent_required suberror as an interaction-required error.
    const err = await rejection(makeCca(env.emu, other).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
    assert.ok(err instanceof InteractionRequiredAuthError);
    assert.equal(err.errorCode, 'invalid_grant');
    assert.match(err.errorMessage, /AADSTS65001/);
  });

  it('journals Intune calls per tenant, from the token', async () => {
    await env.emu.control.grantConsent(other.tenantId, other.clientId);
    const mine = await accessToken(makeCca(env.emu, env.t), INTUNE_SCOPE);
    const theirs = await accessToken(makeCca(env.emu, other), INTUNE_SCOPE);
    await env.emu.control.clearRequests();
    assert.equal((await provision(env.emu, env.t, mine)).status, 200);
    assert.equal((await provision(env.emu, other, theirs)).status, 200);
    const policy = { DisplayName: 'iOS', Description: 'partner', Platform: 'iOS', PartnerManagedCompliance: true };
    assert.equal(
      (await call(`${tenantService(env.emu)}/PartnerCompliancePolicies?api-version=1.6`, { method: 'POST', token: theirs, body: policy }))
        .status,
      201,
    );
    const heartbeat = await call(`${tenantService(env.emu)}/PartnerTenantHeartbeat(guid'${other.tenantId}')?api-version=1.6`, {
      method: 'PUT',
      token: theirs,
      headers: { Prefer: 'return-content' },
      body: { Timestamp: new Date().toISOString() },
    });
    assert.equal(heartbeat.status, 200);
    const paths = async (tenantId: string): Promise<string[]> =>
      (await env.emu.control.requests({ tenantId: tenantId.toUpperCase() })).map(
        (r) => `${r.method} ${r.path.split('?')[0]!.split('/').pop()!}`,
      );
    assert.deepEqual(await paths(env.t.tenantId), [`PUT PartnerTenants(guid'${env.t.tenantId}')`]);
    assert.deepEqual(await paths(other.tenantId), [
      `PUT PartnerTenants(guid'${other.tenantId}')`,
      'POST PartnerCompliancePolicies',
      `PUT PartnerTenantHeartbeat(guid'${other.tenantId}')`,
    ]);
  });

  it('validates the consent control plane', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${env.emu.url}/_emulator/tenants`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await post({ displayName: 'no id' })).status, 400);
    assert.equal((await post({ tenantId: other.tenantId })).status, 200);
    const base = `${env.emu.url}/_emulator/tenants/${other.tenantId}`;
    assert.equal((await fetch(`${base}/consents/${randomUUID()}`, { method: 'PUT' })).status, 404);
    assert.equal((await fetch(`${base}/consents/${other.clientId}`, { method: 'DELETE' })).status, 404);
    await env.emu.control.grantConsent(other.tenantId, other.clientId);
    assert.equal((await fetch(`${base}/consents/${other.clientId}?how=forever`, { method: 'DELETE' })).status, 400);
    const answer = await fetch(`${base}/consent-answer`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ answer: 'maybe' }),
    });
    assert.equal(answer.status, 400);
    // Nothing changed by the refused calls.
    const view = await env.emu.control.tenant(other.tenantId);
    assert.deepEqual([view.consents.map((c) => c.clientId), view.consentAnswer], [[other.clientId], 'grant']);
    await env.emu.control.reset();
    assert.equal((await fetch(base)).status, 404);
  });
});
