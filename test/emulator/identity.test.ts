// Identity platform (I1-I5) and the emulator CA, with the real msal-node where it applies.
import assert from 'node:assert/strict';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ServerError } from '@azure/msal-node';
import forge from 'node-forge';
import { ensureCa, issueServerCert } from '../../emulator/ca';
import { call, GRAPH_SCOPE, INTUNE_SCOPE, makeCca, useEmulatorWithTenant } from './helpers';

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function selfSigned(): { certPem: string; keyPem: string; sha256: string; sha1: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'connector' }]);
  cert.setIssuer([{ name: 'commonName', value: 'connector' }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const der = new X509Certificate(certPem).raw;
  return {
    certPem,
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
    sha256: createHash('sha256').update(der).digest('hex'),
    sha1: createHash('sha1').update(der).digest('hex'),
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

describe('azure emulator: identity platform', () => {
  const env = useEmulatorWithTenant();

  const tokenUrl = (): string => `${env.emu.url}/${env.t.tenantId}/oauth2/v2.0/token`;
  const postForm = (fields: Record<string, string>, url = tokenUrl()): Promise<Response> =>
    fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });

  it('serves openid-configuration with a same-origin issuer, and 400 AADSTS90002 for an unknown tenant', async () => {
    const res = await call(`${env.emu.url}/${env.t.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const body = res.body as Record<string, unknown>;
    assert.equal(body.issuer, `${env.emu.url}/${env.t.tenantId}/v2.0`);
    assert.equal(body.token_endpoint, tokenUrl());
    assert.equal(body.authorization_endpoint, `${env.emu.url}/${env.t.tenantId}/oauth2/v2.0/authorize`);
    assert.equal(body.jwks_uri, `${env.emu.url}/${env.t.tenantId}/discovery/v2.0/keys`);
    const unknown = randomUUID();
    const missing = await call(`${env.emu.url}/${unknown}/v2.0/.well-known/openid-configuration`);
    assert.equal(missing.status, 400);
    assert.deepEqual(
      [(missing.body as { error: string }).error, (missing.body as { error_codes: number[] }).error_codes],
      ['invalid_request', [90002]],
    );
  });

  it('issues Bearer tokens whose audience and roles follow the scope', async () => {
    const res = await postForm({
      grant_type: 'client_credentials',
      client_id: env.t.clientId,
      client_secret: env.t.clientSecret,
      scope: GRAPH_SCOPE,
      'x-client-SKU': 'msal.js.node',
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { token_type: string; expires_in: number; ext_expires_in: number; access_token: string };
    assert.deepEqual([body.token_type, body.expires_in, body.ext_expires_in], ['Bearer', 3599, 3599]);
    const graph = claimsOf(body.access_token);
    assert.equal(graph.aud, 'https://graph.microsoft.com');
    assert.equal(graph.tid, env.t.tenantId);
    assert.equal(graph.appid, env.t.clientId);
    assert.deepEqual(graph.roles, ['Device.ReadWrite.All', 'User.Read.All', 'Application.Read.All']);
    assert.equal((graph.exp as number) - (graph.iat as number), 3599);

    const intune = await makeCca(env.emu, env.t).acquireTokenByClientCredential({ scopes: [INTUNE_SCOPE] });
    const claims = claimsOf(intune!.accessToken);
    assert.equal(claims.aud, 'https://api.manage.microsoft.com/');
    assert.deepEqual(claims.roles, ['update_device_attributes']);
  });

  it('returns each client-credentials error Entra would, as ServerError in MSAL', async () => {
    const cases: Array<[Promise<unknown>, string, string]> = [
      [
        makeCca(env.emu, { ...env.t, clientId: randomUUID() }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
        'unauthorized_client',
        '700016',
      ],
      [
        makeCca(env.emu, env.t).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/Device.Read.All'] }),
        'invalid_scope',
        '1002012',
      ],
      [
        makeCca(env.emu, env.t).acquireTokenByClientCredential({ scopes: ['https://unknown.example.com/.default'] }),
        'invalid_resource',
        '500011',
      ],
    ];
    for (const [promise, code, no] of cases) {
      const err = await rejection(promise);
      assert.ok(err instanceof ServerError);
      assert.deepEqual([err.errorCode, String(err.errorNo)], [code, no]);
    }
    const two = await postForm({
      grant_type: 'client_credentials',
      client_id: env.t.clientId,
      client_secret: env.t.clientSecret,
      scope: `${GRAPH_SCOPE} ${INTUNE_SCOPE}`,
    });
    assert.equal(two.status, 400);
    assert.deepEqual(((await two.json()) as { error_codes: number[] }).error_codes, [70011]);
    const grant = await postForm({ grant_type: 'password', client_id: env.t.clientId });
    assert.equal(grant.status, 400);
    assert.equal(((await grant.json()) as { error: string }).error, 'unsupported_grant_type');
    const secret = await postForm({
      grant_type: 'client_credentials',
      client_id: env.t.clientId,
      client_secret: 'wrong',
      scope: GRAPH_SCOPE,
    });
    assert.equal(secret.status, 401);
    assert.equal(((await secret.json()) as { error: string }).error, 'invalid_client');
  });

  it('redacts the client secret in the journal and records the client-request-id MSAL sends', async () => {
    await makeCca(env.emu, env.t).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    const [entry] = await env.emu.control.requests({ service: 'token' });
    const body = entry?.body as Record<string, string>;
    assert.equal(body.client_secret, '[redacted]');
    assert.equal(body.grant_type, 'client_credentials');
    assert.equal(body.scope, GRAPH_SCOPE);
    assert.match(entry?.clientRequestId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(entry?.hasBearer, false);
  });

  it('accepts certificate credentials (I4) with SHA-256 (PS256) and SHA-1 (RS256) thumbprints, and rejects an unknown key', async () => {
    const cert = selfSigned();
    await env.emu.control.seed({
      tenants: [
        {
          tenantId: env.t.tenantId,
          apps: [{ clientId: env.t.clientId, clientSecret: env.t.clientSecret, certificatePems: [cert.certPem] }],
        },
      ],
    });
    const base = {
      clientSecret: undefined,
      authority: `${env.emu.url}/${env.t.tenantId}`,
      knownAuthorities: [`localhost:${env.emu.port}`],
    };
    const pss = makeCca(env.emu, env.t, { ...base, clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.keyPem } });
    assert.equal((await pss.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }))?.fromCache, false);
    const rsa = makeCca(env.emu, env.t, { ...base, clientCertificate: { thumbprint: cert.sha1, privateKey: cert.keyPem } });
    assert.equal((await rsa.acquireTokenByClientCredential({ scopes: [INTUNE_SCOPE] }))?.fromCache, false);
    const bodies = (await env.emu.control.requests({ service: 'token' })).map((r) => r.body as Record<string, string>);
    assert.deepEqual(
      bodies.map((b) => [b.client_assertion, b.client_assertion_type]),
      [
        ['[redacted]', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
        ['[redacted]', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
      ],
    );

    const stranger = selfSigned();
    const err = await rejection(
      makeCca(env.emu, env.t, {
        ...base,
        clientCertificate: { thumbprintSha256: stranger.sha256, privateKey: stranger.keyPem },
      }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
    );
    assert.ok(err instanceof ServerError);
    assert.deepEqual([err.errorCode, String(err.errorNo)], ['invalid_client', '700027']);
  });

  it('answers instance discovery for diagnostics', async () => {
    const res = await call(`${env.emu.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=x`);
    const body = res.body as { metadata: Array<{ aliases: string[] }> };
    assert.deepEqual(body.metadata[0]?.aliases, [`localhost:${env.emu.port}`]);
  });
});

describe('azure emulator: CA', () => {
  it('creates the CA once, keeps the key private, and issues leaf certificates it signs for localhost', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'env.emu-ca-'));
    try {
      const first = ensureCa(dir);
      const second = ensureCa(dir);
      assert.equal(second.caCertPem, first.caCertPem);
      assert.equal(first.caPemPath, path.join(dir, 'ca.pem'));
      assert.equal(fs.statSync(path.join(dir, 'ca-key.pem')).mode & 0o777, 0o600);
      const ca = new X509Certificate(first.caCertPem);
      assert.equal(ca.ca, true);
      const leaf = new X509Certificate(issueServerCert(first).certPem);
      assert.equal(leaf.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
      assert.equal(leaf.checkIssued(ca), true);
      assert.equal(leaf.verify(ca.publicKey), true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
