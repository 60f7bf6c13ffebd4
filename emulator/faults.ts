// Fault injection (README.md, Control plane): a FIFO list of specs; the first one that matches a request (and wins its
// probability roll) is consumed and decides the delay and/or the response.
import { defaultGraphErrorBody, header, newId, safeDecode, type EmuRequest, type EmuResponse } from './http';
import { defaultTokenErrorBody } from './identity';
import type { FaultableService, FaultSpec } from './types';

export interface FaultTarget {
  method: string;
  path: string;
  service: FaultableService;
  batchItem: boolean;
}

interface ActiveFault {
  id: string;
  spec: FaultSpec;
  regex: RegExp | undefined;
  remaining: number;
}

export class FaultRegistry {
  private faults: ActiveFault[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  /** Throws on an invalid pathRegex so the control plane can answer 400. */
  add(spec: FaultSpec): string {
    const id = newId();
    const regex = spec.match.pathRegex !== undefined ? new RegExp(spec.match.pathRegex) : undefined;
    this.faults.push({ id, spec, regex, remaining: spec.times ?? Number.POSITIVE_INFINITY });
    return id;
  }

  list(): Array<{ id: string; remaining: number | null; spec: FaultSpec }> {
    return this.faults.map((f) => ({ id: f.id, remaining: Number.isFinite(f.remaining) ? f.remaining : null, spec: f.spec }));
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  clear(): void {
    this.faults = [];
  }

  /** Consumes one use of the first matching fault. */
  take(target: FaultTarget): FaultSpec | undefined {
    for (const f of this.faults) {
      if (!matches(f, target)) continue;
      if (f.spec.probability !== undefined && this.random() >= f.spec.probability) continue;
      f.remaining -= 1;
      if (f.remaining <= 0) this.faults = this.faults.filter((x) => x !== f);
      return f.spec;
    }
    return undefined;
  }
}

function matches(f: ActiveFault, t: FaultTarget): boolean {
  const m = f.spec.match;
  if ((m.batchItem ?? false) !== t.batchItem) return false;
  if (m.service !== undefined && m.service !== t.service) return false;
  if (m.method !== undefined && m.method.toUpperCase() !== t.method.toUpperCase()) return false;
  if (f.regex && !f.regex.test(t.path) && !f.regex.test(safeDecode(t.path))) return false;
  return true;
}

/**
 * The wire response of a fault. Bodies default to the service's own error shape; token-endpoint
 * 429/5xx default to Retry-After: 1 because without it msal-node throttles itself for 60 s.
 */
export function faultResponse(spec: FaultSpec, req: EmuRequest, service: FaultableService): EmuResponse | undefined {
  const r = spec.response;
  if (!r) return undefined;
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  const res: EmuResponse = { status: r.status, headers };
  const throttling = r.status === 429 || r.status >= 500;
  if (service === 'token' && throttling && header(res, 'Retry-After') === undefined) headers['Retry-After'] = '1';
  if (r.body !== undefined) res.body = r.body;
  else if (r.status !== 204) res.body = service === 'token' ? defaultTokenErrorBody(req, r.status) : defaultGraphErrorBody(req, r.status);
  return res;
}
