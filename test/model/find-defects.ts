/**
 * Not a test: prints, per category of problem the model tests report, one shrunk random device life
 * that shows it (the pure domain, through domain-driver.ts). A failing model test stops at its first
 * counterexample; this tells the different defects apart.
 *   npx tsx test/model/find-defects.ts [category] [seed]
 */
import fc from 'fast-check';
import { categories } from './checks';
import { simulate } from './domain-simulation';
import { mixedSequenceArb } from './generators';

const CATEGORIES = [
  'answer-409',
  'microsoft-exact',
  'microsoft-removed',
  'microsoft-notCompliant',
  'microsoft-untouched',
  'last-update-time',
  'not-settled',
  'details-retiredAt',
  'details-azureDeviceComplianceStatus',
  'details-lastError',
  'details-lastError.code',
  'details-policyAction',
  'details-azureDeviceIdentifier',
  'details-azureClientStatusCode',
  'details-inventory',
];
const only = process.argv[2];
const seed = Number(process.argv[3] ?? 1);
const arb = mixedSequenceArb(1, 16);

const tally = new Map<string, number>();
const samples = fc.sample(arb, { seed, numRuns: 5000 });
for (const s of samples) for (const c of categories(simulate(s).problems)) tally.set(c, (tally.get(c) ?? 0) + 1);
console.log(`${samples.length} random lives; lives showing each category:`, Object.fromEntries(tally));

for (const cat of only ? [only] : CATEGORIES) {
  const r = fc.check(
    fc.property(arb, (s) => !categories(simulate(s).problems).includes(cat)),
    { seed, numRuns: 5000 },
  );
  if (!r.failed) {
    console.log(`\n== ${cat}: none found`);
    continue;
  }
  const run = simulate(r.counterexample![0]);
  console.log(
    `\n== ${cat}\n${run.trace.map((l) => `  ${l}`).join('\n')}\n  => ${run.problems.filter((p) => p.startsWith(`[${cat}]`)).join('\n  => ')}`,
  );
}
