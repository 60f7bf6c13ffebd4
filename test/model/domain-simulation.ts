/**
 * Runs one generated device life through the pure domain (domain-driver.ts) and judges it against
 * the reference model; used by the pure model test and to tally defects.
 */
import { answerProblems, detailProblems, microsoftProblems, uploadTimeProblems, type Answer } from './checks';
import { DomainDevice, SimulatedMicrosoft, type World } from './domain-driver';
import { Materializer, syntheticPools, type MixedStep } from './generators';
import { runModel, type MicrosoftExpectation, type ModelGraces, type Step } from './reference-model';
import type { GracePeriods } from '../../domain/grace';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const START = NOW - 24 * 60 * 60 * 1000;

export interface SimulationResult {
  steps: Step[];
  /** The steps as they ran, with the workflow ticks after each event: what a failure prints. */
  trace: string[];
  events: number;
  problems: string[];
  /** The life ended inside a grace window (Microsoft was judged there before time passed). */
  graceWindowOpen: boolean;
}

/** A tenant's grace periods, as the settings hold them (ISO 8601) and as the reference model reads them (ms). */
export interface GraceConfig {
  periods: GracePeriods;
  ms: ModelGraces;
}

/** While a grace window is open, Microsoft keeps the device compliant: the current target exactly, former ids anything. */
function inGrace(expect: MicrosoftExpectation): MicrosoftExpectation {
  if (expect.kind === 'exact') return { ...expect, isCompliant: true };
  return expect.kind === 'notCompliant' ? { kind: 'any' } : expect;
}

/**
 * `grace`: the tenant's grace periods (none: the default runs). The device then takes its events at
 * NOW; once everything settled, Microsoft is judged inside any grace window still open (compliant
 * kept), then time passes beyond every window and every rule is judged exactly, as without grace.
 */
export function simulate(sequence: readonly MixedStep[], grace?: GraceConfig): SimulationResult {
  const world: World = { enabled: true, fault: null, microsoft: new SimulatedMicrosoft() };
  const device = new DomainDevice(
    'tenant-model',
    'device-model',
    grace ? { periods: grace.periods, now: new Date(NOW).toISOString() } : undefined,
  );
  const materializer = new Materializer(syntheticPools(1), START, NOW);
  const steps: Step[] = [];
  const answers: Answer[] = [];
  const trace: string[] = [];
  const tick = (n: number) => {
    for (let i = 0; i < n; i++) device.tick(world);
  };

  for (const s of sequence) {
    if (s.kind === 'global') {
      steps.push(s.step);
      trace.push(JSON.stringify(s.step));
      const g = s.step;
      if (g.kind === 'reporting') {
        const wasOff = !world.enabled;
        world.enabled = g.enabled;
        if (wasOff && g.enabled) device.sweep('enable');
      } else if (g.kind === 'sync') device.sweep('manual');
      else world.fault = g.fault;
      continue;
    }
    const event = materializer.event(s.step);
    if (event === null) continue;
    steps.push({ kind: 'event', event });
    answers.push(device.send(event));
    trace.push(`${JSON.stringify(event)} -> ${answers[answers.length - 1]}, then ${s.step.ticks} ticks`);
    tick(s.step.ticks);
  }

  // The end: Microsoft healthy, reporting on; after Failed messages an admin syncs (they are not retried).
  const model = runModel(steps, grace?.ms, NOW);
  world.fault = null;
  if (!world.enabled) {
    world.enabled = true;
    device.sweep('enable');
  }
  let settled = device.settle(world);
  if (model.sawFailedMessages) {
    device.sweep('manual');
    settled = device.settle(world) && settled;
  }
  const duringGrace: string[] = [];
  if (grace) {
    const open = model.graceWindowUntil !== null;
    const expected = new Map([...model.microsoft].map(([id, e]) => [id, open ? inGrace(e) : e]));
    duringGrace.push(
      ...microsoftProblems({ ...model, microsoft: expected }, (id) => world.microsoft.view(id)).map(
        (p) => `${p} (${open ? 'inside' : 'outside'} the grace window, before it ends)`,
      ),
    );
    // Time passes beyond every grace: what is owed is reported, as without grace.
    device.passTime(new Date(NOW + 365 * 24 * 60 * 60 * 1000).toISOString());
    settled = device.settle(world) && settled;
  }

  const problems = [
    ...(settled ? [] : ['[not-settled] the device loop never became idle']),
    ...duringGrace,
    ...answerProblems(model, answers),
    ...microsoftProblems(model, (id) => world.microsoft.view(id)),
    ...uploadTimeProblems(world.microsoft.uploads.get(device.deviceId) ?? []),
    // A device that never sent an event has no row (404), nothing to compare.
    ...(answers.length === 0 ? [] : detailProblems(model, device.details(), 'read model')),
  ];
  return { steps, trace, events: answers.length, problems, graceWindowOpen: model.graceWindowUntil !== null };
}
