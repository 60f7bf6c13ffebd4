/**
 * The fault run's results: bench/results/faults-<date>.json (every figure, and every wrong device
 * with its events) and docs/reliability.md (the table, the command, the date and the machine).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MachineInfo } from '../lib/machine';
import type { HostileResult } from './scenarios/hostile-input';
import type { FaultResult } from './scenario';

export interface FaultsReport {
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  settings: {
    devices: number;
    eventsPerSecond: number;
    azureRequestTimeoutMs: number;
    sweepDevicesPerSecond: number;
    convergeWithinSeconds: number;
  };
  /** The first registrations of the fleet, and how long until every device was right. */
  warmUp: { accepted: number; convergedAfterMs: number | null; wrong: number };
  faults: FaultResult[];
  hostile: HostileResult | null;
  /** Every invariant held: 0 lost, 0 wrong, 0 5xx, 0 unanswered, 0 devices created. */
  passed: boolean;
}

export function passed(faults: readonly FaultResult[], hostile: HostileResult | null): boolean {
  const faultsOk = faults.every((f) => f.invariant.lost === 0 && f.invariant.wrong === 0);
  const hostileOk = hostile === null || (hostile.serverErrors === 0 && hostile.unanswered === 0 && hostile.devicesCreated === 0);
  return faultsOk && hostileOk;
}

const s1 = (ms: number | null) => (ms === null ? '**did not converge**' : `${(ms / 1000).toFixed(1)} s`);
const bold0 = (n: number) => (n === 0 ? '0' : `**${n}**`);

export function renderReliability(r: FaultsReport, resultsFile: string): string {
  const minutes = ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 60_000).toFixed(1);
  const m = r.machine;
  const lines = [
    '# Reliability under faults',
    '',
    '`npm run faults` runs the real stack — a Temporal dev server (`temporal server start-dev --db-filename`), a fresh',
    "Postgres database, the Azure emulator over HTTPS, the connector's worker and API as child processes — with TCP",
    "proxies of its own in front of Temporal's frontend and Postgres (the worker and the API reach them only through the",
    'proxies), and breaks one thing at a time under a steady MDM load (code: `bench/faults/`). This file is written by it.',
    '',
    `Run of ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC: \`${r.command}\` (${minutes} min); raw figures, and every wrong device with its events, in \`${resultsFile}\`.`,
    '',
    `- Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.os}; load average at start ${m.loadAverageAtStart.join(' / ')}.`,
    `- Load: ${r.settings.devices} devices, ${r.settings.eventsPerSecond} events/s (random compliance actions, inventory, retires and re-enrolments with a new Azure device id; ` +
      'every registration `Success` with a GUID and the UPN of a user the emulator knows; strictly increasing `occurredAt` per device, one event in flight per device). ' +
      'A 503 or no answer is sent again (the same event) 0.5 s later, as an MDM would, until accepted.',
    `- Connector settings: \`AZURE_REQUEST_TIMEOUT_MS=${r.settings.azureRequestTimeoutMs}\`, \`SWEEP_DEVICES_PER_SECOND=${r.settings.sweepDevicesPerSecond}\` (so a sweep lasts long enough to be killed in), the rest as shipped.`,
    `- Warm-up: every device registered (${r.warmUp.accepted} events), all right after ${s1(r.warmUp.convergedAfterMs)}${r.warmUp.wrong ? `, **${r.warmUp.wrong} wrong**` : ''}.`,
    '',
    `**Invariant**, checked after each fault for every device: Microsoft's state (the emulator's Entra view of the device's current Azure device id: isManaged / isCompliant) equals what its last accepted event implies ` +
      '(QUARANTINE / BLOCK_APPCONNECT / BLOCK_EMAIL → managed + notCompliant; SEND_ALERT or none → managed + compliant; retired → notManaged + notCompliant), ' +
      `and \`GET /v1/devices/{id}\` agrees and is \`Successful\`, within ${r.settings.convergeWithinSeconds} s of the fault ending. ` +
      "An accepted event is **lost** when the final state does not show the last accepted event of its kind (the Azure device id, the policy action, the inventory's OS version, the retirement).",
    '',
    '| fault | how | events accepted | refused with 503 | other refusals | lost | wrong final state | duplicate uploads | peak requests to Microsoft /s | Retry-After honoured | time to converge |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.faults.map((f) => {
      const ra = f.microsoft.retryAfter;
      const honoured =
        ra.retried === 0
          ? '–'
          : ra.early === 0
            ? `yes (${ra.retried} retries, shortest wait ${((ra.shortestGapMs ?? 0) / 1000).toFixed(2)} s)`
            : `**no**: ${ra.early} of ${ra.retried} retries early`;
      const other =
        Object.entries(f.load.otherStatus)
          .map(([k, v]) => `${v} × ${k}`)
          .join(', ') || '0';
      return `| ${f.name} | ${f.how} | ${f.load.accepted} | ${f.load.refused503} | ${other} | ${bold0(f.invariant.lost)} | ${bold0(f.invariant.wrong)} | ${f.microsoft.duplicateUploads} | ${f.microsoft.peakPerSecond} | ${honoured} | ${s1(f.invariant.convergedAfterMs)} |`;
    }),
    '',
    '"Other refusals": answers other than 202 and 503 to valid events of the load (a 409 after an accepted re-enrolment is one), not sent again. ' +
      '"Duplicate uploads": upload messages Microsoft accepted that told it exactly what the device\'s previous accepted message did ' +
      '(a forced re-report — the sweep — counts too). Retransmissions of an already accepted message id (idempotent) are counted apart in the JSON (`resentUploads`).',
  ];
  if (r.hostile) {
    const h = r.hostile;
    lines.push(
      '',
      `**Hostile input**: ${h.requests.toLocaleString('en-US')} generated requests (${h.notSent} not sent) over ${h.connections} keep-alive connections in ${h.seconds} s — malformed JSON, wrong shapes, invalid events of every type, ` +
        'oversize bodies (> 1 MiB), deep nesting, long near-misses of every pattern (regex worst cases, last), unknown routes and methods, hostile path and query values — ' +
        'on every documented route, with the MDM key, the admin key, a wrong key, a malformed header and none.',
      '',
      '| 5xx | requests left unanswered | longest response | devices created |',
      '|---|---|---|---|',
      `| ${bold0(h.serverErrors)} | ${bold0(h.unanswered)} | ${h.longestMs} ms (${h.longestRequest}) | ${bold0(h.devicesCreated)} |`,
      '',
      `Answers by status: ${Object.entries(h.byStatus)
        .sort()
        .map(([k, v]) => `${k} × ${v}`)
        .join(', ')}.`,
    );
    if (h.blockedBy)
      lines.push(
        '',
        `**The API was blocked** by \`${h.blockedBy}\`: left unanswered for the whole timeout; the ${h.notSent} worst cases after it were not sent.`,
      );
    if (h.examples.serverError.length) lines.push('', `5xx, e.g.: ${h.examples.serverError.map((x) => `\`${x}\``).join('; ')}.`);
    if (h.examples.unanswered.length) lines.push('', `Unanswered, e.g.: ${h.examples.unanswered.map((x) => `\`${x}\``).join('; ')}.`);
  }
  const restated = r.faults.filter((f) => f.restated.devices > 0);
  if (restated.length) {
    lines.push(
      '',
      'After a fault with wrong devices, those devices were sent fresh events (a compliance change and an inventory, or their next enrolment) so the next fault starts from right devices: ' +
        restated
          .map(
            (f) =>
              `${f.name}: ${f.restated.rightAgain} of ${f.restated.devices} right again${f.restated.leftOut.length ? `, left out of later faults: ${f.restated.leftOut.join(', ')}` : ''}`,
          )
          .join('; ') +
        '.',
    );
  }
  const wrong = r.faults.flatMap((f) => f.invariant.wrongDevices.map((w) => ({ fault: f.name, ...w })));
  if (wrong.length) {
    lines.push(
      '',
      '## Wrong final states',
      '',
      'Each device still wrong at the deadline, what disagreed, and its accepted events (oldest first):',
      '',
    );
    for (const w of wrong) {
      lines.push(`- **${w.fault}**, \`${w.deviceId}\`: ${[...w.problems, ...w.lost.map((k) => `lost ${k}`)].join('; ')}.`);
      for (const e of w.events.slice(-8)) {
        const { type, occurredAt, acceptedAt, ...rest } = e as unknown as Record<string, unknown>;
        lines.push(`  - ${String(type)} ${String(occurredAt)} (accepted ${String(acceptedAt).slice(11, 23)}) ${JSON.stringify(rest)}`);
      }
    }
  }
  lines.push('', `**Result: ${r.passed ? 'every invariant held' : 'some invariants were broken (in bold above)'}.**`, '');
  return lines.join('\n');
}

export function writeReport(projectRoot: string, r: FaultsReport): { resultsFile: string; docsFile: string } {
  const resultsDir = path.join(projectRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultsFile = path.join(resultsDir, `faults-${r.startedAt.slice(0, 19).replace(/:/g, '-')}.json`);
  writeFileSync(resultsFile, `${JSON.stringify(r, null, 2)}\n`);
  const docsFile = path.join(projectRoot, 'docs', 'reliability.md');
  writeFileSync(docsFile, renderReliability(r, path.relative(projectRoot, resultsFile)));
  return { resultsFile, docsFile };
}
