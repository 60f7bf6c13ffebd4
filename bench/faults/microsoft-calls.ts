/**
 * What the connector did to Microsoft during a fault, read from the emulator's request journal
 * (receive times are real time): requests per second, uploads and duplicate uploads, and whether
 * every retry after a 429 carrying `Retry-After` waited that long.
 */
import type { JournalEntry } from '../../emulator/types';

/** The journal keeps this many entries; a fault with more lost its oldest ones. */
export const JOURNAL_CAPACITY = 10_000;
/** Journal times are taken on receipt, a few ms apart from when the answer left: allowed slack. */
const SLACK_MS = 10;

export interface MicrosoftCalls {
  requests: number;
  byService: Record<string, number>;
  byStatus: Record<string, number>;
  peakPerSecond: number;
  /** Upload messages Microsoft accepted (distinct message ids). */
  uploads: number;
  /** Accepted upload messages that told Microsoft exactly what the device's previous accepted one did. */
  duplicateUploads: number;
  /** PUTs of a message id Microsoft had already accepted (an idempotent retransmission). */
  resentUploads: number;
  retryAfter: {
    /** 429s whose Retry-After the suite knows (it injected them), with a later request on the same path. */
    retried: number;
    /** Of those, retries sent sooner than Retry-After allowed (0 is honoured). */
    early: number;
    shortestGapMs: number | null;
  };
  journalTruncated: boolean;
}

const UPLOAD = /DataUploadMessages\(guid'([0-9a-fA-F-]+)'\)/;

interface UploadBody {
  Content?: unknown;
}

/** The device id and a comparable form of an upload's entities (times that change on every send left out). */
function uploadContent(body: unknown): { deviceId: string; content: string } | null {
  const c = (body as UploadBody | undefined)?.Content;
  if (typeof c !== 'string') return null;
  try {
    const entities = JSON.parse(c) as Array<Record<string, unknown>>;
    const deviceId = entities.find((e) => typeof e.DeviceId === 'string')?.DeviceId as string | undefined;
    if (!deviceId) return null;
    const comparable = entities.map((e) => {
      const { LastCheckInTime: _a, UploadTime: _b, ...rest } = e;
      return rest;
    });
    return { deviceId: deviceId.toLowerCase(), content: JSON.stringify(comparable) };
  } catch {
    return null;
  }
}

/**
 * `retryAfterMs(entry)`: the Retry-After (ms) the suite knows an answer carried, or undefined.
 * The journal does not keep response headers, so only faults the suite injected are judged.
 */
export function analyseCalls(entries: readonly JournalEntry[], retryAfterMs: (e: JournalEntry) => number | undefined): MicrosoftCalls {
  const byService: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  const perSecond = new Map<number, number>();
  const sorted = [...entries].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  for (const e of sorted) {
    byService[e.service] = (byService[e.service] ?? 0) + 1;
    byStatus[String(e.status)] = (byStatus[String(e.status)] ?? 0) + 1;
    const s = Math.floor(Date.parse(e.at) / 1000);
    perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }

  const accepted = new Set<string>();
  const lastContent = new Map<string, string>();
  let uploads = 0;
  let duplicateUploads = 0;
  let resentUploads = 0;
  for (const e of sorted) {
    const m = e.method === 'PUT' ? UPLOAD.exec(e.path) : null;
    if (!m || e.status !== 200) continue;
    const id = m[1]!.toLowerCase();
    if (accepted.has(id)) {
      resentUploads++;
      continue;
    }
    accepted.add(id);
    uploads++;
    const c = uploadContent(e.body);
    if (!c) continue;
    if (lastContent.get(c.deviceId) === c.content) duplicateUploads++;
    lastContent.set(c.deviceId, c.content);
  }

  let retried = 0;
  let early = 0;
  let shortest: number | null = null;
  sorted.forEach((e, i) => {
    if (e.status !== 429) return;
    const wait = retryAfterMs(e);
    if (wait === undefined) return;
    const next = sorted.slice(i + 1).find((x) => x.method === e.method && x.path === e.path);
    if (!next) return;
    const gap = Date.parse(next.at) - Date.parse(e.at);
    retried++;
    if (gap < wait - SLACK_MS) early++;
    shortest = shortest === null ? gap : Math.min(shortest, gap);
  });

  return {
    requests: sorted.length,
    byService,
    byStatus,
    peakPerSecond: Math.max(0, ...perSecond.values()),
    uploads,
    duplicateUploads,
    resentUploads,
    retryAfter: { retried, early, shortestGapMs: shortest },
    journalTruncated: entries.length >= JOURNAL_CAPACITY,
  };
}
