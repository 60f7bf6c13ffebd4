// Microsoft's throttling (docs/microsoft-protocol.md, Budget), as a sliding window per service, tenant and app: a
// request beyond `limit` in the last `windowSeconds` gets 429 with the Retry-After that frees a slot.
// Off unless configured (options `throttle`); the limits Microsoft documents for its Intune Graph
// services are per app per tenant over 20 s (e.g. 2,000 requests), the partner API publishes none.
import { graphError, type EmuRequest, type EmuResponse } from './http';
import type { EmulatorSettings, RateLimit } from './types';

export class ThrottleMeter {
  /** Times (ms, real clock) of the requests let through, oldest first, per service|tenant|app. */
  private readonly windows = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** For a service's handler: the 429 to send, if the caller's window is full. */
  checkCaller(
    req: EmuRequest,
    service: 'graph' | 'intune',
    caller: { tid: string; appid: string },
    limits: EmulatorSettings['throttle'],
  ): EmuResponse | undefined {
    return this.check(req, `${service}|${caller.tid}|${caller.appid}`, limits[service]);
  }

  /** Counts the request, or answers the 429 when its window is full (a throttled request is not counted). */
  check(req: EmuRequest, key: string, limit: RateLimit | null | undefined): EmuResponse | undefined {
    if (!limit) return undefined;
    const now = this.now();
    const windowMs = limit.windowSeconds * 1000;
    let times = this.windows.get(key);
    if (!times) this.windows.set(key, (times = []));
    let expired = 0;
    while (expired < times.length && times[expired]! <= now - windowMs) expired++;
    if (expired > 0) times.splice(0, expired);
    if (times.length < limit.limit) {
      times.push(now);
      return undefined;
    }
    const retryAfter = Math.max(1, Math.ceil((times[0]! + windowMs - now) / 1000));
    return graphError(req, 429, 'TooManyRequests', 'Please retry again later.', { 'Retry-After': String(retryAfter) });
  }

  clear(): void {
    this.windows.clear();
  }
}
