/**
 * The MSAL confidential client applications of this process.
 *
 * One `ConfidentialClientApplication` per (authority host, tenant, client id, secret) for the life of
 * the process: its in-memory token cache is what makes `fromCache` true, so it must outlive any one
 * `AzureComplianceClient`: the MSAL application is the one module-level singleton we allow.
 * The secret is part of the key only as a SHA-256 fingerprint, so a rotated secret gets a fresh app.
 *
 * Every HTTP request MSAL makes goes through `TimedNetworkClient`: Node's global `fetch` (so
 * NODE_EXTRA_CA_CERTS applies) with a timeout, and a record of what the identity platform answered
 * (status, Retry-After, transport error), which msal-node's own errors do not carry. The record is
 * kept per call through AsyncLocalStorage, so concurrent token calls never see each other's data.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { parseRetryAfter } from './http-errors';
import type { TokenObservation } from './msal-errors';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Per token call: the timeout to apply and what the network module saw. */
export interface TokenCallScope {
  timeoutMs: number;
  observation?: TokenObservation;
}

export const tokenCallScope = new AsyncLocalStorage<TokenCallScope>();

class TimedNetworkClient implements INetworkModule {
  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const scope = tokenCallScope.getStore();
    const configured = scope?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const timeoutMs = timeout && timeout > 0 ? Math.min(timeout, configured) : configured;
    const observation: TokenObservation = { timeoutMs, request: `${method} ${new URL(url).pathname}` };
    if (scope) scope.observation = observation;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: options?.headers,
        body: method === 'POST' ? (options?.body ?? '') : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      observation.transportError = err;
      throw err;
    }
    observation.status = response.status;
    observation.retryAfterRaw = response.headers.get('retry-after');
    observation.retryAfterMs = parseRetryAfter(observation.retryAfterRaw);
    observation.contentType = response.headers.get('content-type');
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    let body: T;
    try {
      body = JSON.parse(text) as T;
    } catch {
      observation.nonJson = true;
      throw new Error(`identity platform returned HTTP ${response.status} with a non-JSON body`);
    }
    if (body && typeof body === 'object') {
      const b = body as { error?: unknown; error_description?: unknown; error_codes?: unknown };
      if (typeof b.error === 'string' || typeof b.error_description === 'string') {
        observation.serverError = {
          error: typeof b.error === 'string' ? b.error : null,
          description: typeof b.error_description === 'string' ? b.error_description : null,
          codes: Array.isArray(b.error_codes) ? (b.error_codes as Array<number | string>) : [],
        };
      }
    }
    return { headers, body, status: response.status };
  }
}

export interface MsalAppKey {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface MsalApp {
  readonly cca: ConfidentialClientApplication;
  /**
   * Until when (epoch ms) msal-node refuses a scope by itself after a 429/5xx from the token
   * endpoint (mirrors msal-common's ThrottlingUtils: Retry-After, else 60 s, at most 3600 s).
   */
  readonly throttledUntil: Map<string, number>;
}

const apps = new Map<string, MsalApp>();

function normaliseHost(authorityHost: string): string {
  return authorityHost.replace(/\/+$/, '');
}

/** The process-wide MSAL application for these credentials (created on first use). */
export function getMsalApp(k: MsalAppKey): MsalApp {
  const host = normaliseHost(k.authorityHost);
  const fingerprint = createHash('sha256').update(k.clientSecret).digest('hex').slice(0, 16);
  const key = `${host}|${k.tenantId}|${k.clientId}|${fingerprint}`;
  let app = apps.get(key);
  if (!app) {
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: k.clientId,
        clientSecret: k.clientSecret,
        authority: `${host}/${k.tenantId}`,
        // host[:port]: skips instance discovery (login.microsoftonline.com/common/discovery/instance).
        knownAuthorities: [new URL(host).host],
      },
      system: { networkClient: new TimedNetworkClient() },
    });
    app = { cca, throttledUntil: new Map() };
    apps.set(key, app);
  }
  return app;
}

/**
 * After a failed token call that saw `obs`: for how many more ms msal-node refuses this scope by
 * itself, without a request (null when it does not). msal-node keeps that state privately
 * (ThrottlingUtils: after a 429 or 5xx, Retry-After seconds, 60 s without one, at most 3600 s); this
 * only mirrors its arithmetic, so Temporal retries when msal-node would send the request again.
 */
export function localThrottleAfter(
  app: MsalApp,
  scope: string,
  obs: TokenObservation | undefined,
  now: number = Date.now(),
): number | null {
  if (obs?.status !== undefined && (obs.status === 429 || obs.status >= 500)) {
    const raw = obs.retryAfterRaw ? parseInt(obs.retryAfterRaw, 10) : NaN;
    const seconds = Number.isFinite(raw) && raw > 0 ? Math.min(raw, 3600) : 60;
    app.throttledUntil.set(scope, now + seconds * 1000);
  }
  const until = app.throttledUntil.get(scope);
  return obs === undefined && until !== undefined && until > now ? until - now : null;
}

/** Drops every cached MSAL application (and so their token caches). For tests and secret rotation. */
export function forgetMsalApps(): void {
  apps.clear();
}
