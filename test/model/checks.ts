/**
 * The judgements both model tests make of one device, given the reference model's result and what
 * was observed. Each problem starts with a category (`[microsoft-removed]`, …) so failures can be
 * told apart and counted.
 */
import { detailMismatches, violation, type ModelResult, type MicrosoftView, type ObservedDetails } from './reference-model';

/** The API's answer to each event: accepted (202) or refused as retired (409). */
export type Answer = 'accepted' | 'rejected';

/** 409 is allowed only for an event the rules refuse (any event but a registration on a retired device). */
export function answerProblems(model: ModelResult, answers: readonly Answer[]): string[] {
  const out: string[] = [];
  answers.forEach((a, i) => {
    if (a === 'rejected' && model.outcomes[i] !== 'refused')
      out.push(`[answer-409] event #${i} answered 409 but the rules make it ${model.outcomes[i]}`);
  });
  return out;
}

export function microsoftProblems(model: ModelResult, view: (azureDeviceId: string) => MicrosoftView | null): string[] {
  const out: string[] = [];
  for (const [id, expect] of model.microsoft) {
    const why = violation(expect, view(id));
    if (why !== null) out.push(`[microsoft-${expect.kind}] ${id}: ${why}`);
  }
  return out;
}

/** Every upload's LastUpdateTime strictly increases per device (in the order Microsoft took them). */
/**
 * Every upload of a device carries its own LastUpdateTime (the workflow makes each one later than the
 * one before), so Microsoft can always tell which is newer. They are compared as a set: an upload
 * superseded while it was already on its way may reach Microsoft after the newer one, and loses there.
 */
export function uploadTimeProblems(uploads: ReadonlyArray<{ lastUpdateTime: string | null }>): string[] {
  const seen = new Map<number, number>();
  for (let i = 0; i < uploads.length; i++) {
    const t = Date.parse(uploads[i]!.lastUpdateTime ?? '');
    if (Number.isNaN(t)) return [`[last-update-time] upload #${i} carries no LastUpdateTime`];
    const earlier = seen.get(t);
    if (earlier !== undefined)
      return [`[last-update-time] uploads #${earlier} and #${i} both carry LastUpdateTime ${uploads[i]!.lastUpdateTime}`];
    seen.set(t, i);
  }
  return [];
}

export function detailProblems(model: ModelResult, seen: ObservedDetails | null, source: string): string[] {
  if (seen === null) return [`[details-missing] ${source}: no device row`];
  return detailMismatches(model.details, seen).map((m) => `[details-${m.split(':')[0]}] ${source}: ${m}`);
}

/** The categories of a list of problems, for counting. */
export function categories(problems: readonly string[]): string[] {
  return [...new Set(problems.map((p) => /^\[([^\]]+)\]/.exec(p)?.[1] ?? 'other'))];
}

/** Fields where two views of the read model disagree (instants compared as instants, objects key by key). */
export function disagreements(a: ObservedDetails, b: ObservedDetails, aName: string, bName: string): string[] {
  const norm = (field: string, v: unknown): string => {
    if (field === 'retiredAt' && typeof v === 'string') return new Date(Date.parse(v)).toISOString();
    return canonical(v);
  };
  return (Object.keys(a) as Array<keyof ObservedDetails>)
    .filter((k) => norm(k, a[k]) !== norm(k, b[k]))
    .map((k) => `[read-model-vs-workflow] ${k}: ${aName} shows ${JSON.stringify(a[k])}, ${bName} ${JSON.stringify(b[k])}`);
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
}
