/**
 * Runs one generated device life through the pure domain (domain-driver.ts) and judges it against
 * the reference model; used by the pure model test and to tally defects.
 */
import { answerProblems, detailProblems, microsoftProblems, uploadTimeProblems, type Answer } from './checks';
import { DomainDevice, SimulatedMicrosoft, type World } from './domain-driver';
import { Materializer, syntheticPools, type MixedStep } from './generators';
import { runModel, type Step } from './reference-model';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const START = NOW - 24 * 60 * 60 * 1000;

export interface SimulationResult {
  steps: Step[];
  /** The steps as they ran, with the workflow ticks after each event: what a failure prints. */
  trace: string[];
  events: number;
  problems: string[];
}

export function simulate(sequence: readonly MixedStep[]): SimulationResult {
  const world: World = { enabled: true, fault: null, microsoft: new SimulatedMicrosoft() };
  const device = new DomainDevice('tenant-model', 'device-model');
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
  const model = runModel(steps);
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

  const problems = [
    ...(settled ? [] : ['[not-settled] the device loop never became idle']),
    ...answerProblems(model, answers),
    ...microsoftProblems(model, (id) => world.microsoft.view(id)),
    ...uploadTimeProblems(world.microsoft.uploads.get(device.deviceId) ?? []),
    // A device that never sent an event has no row (404), nothing to compare.
    ...(answers.length === 0 ? [] : detailProblems(model, device.details(), 'read model')),
  ];
  return { steps, trace, events: answers.length, problems };
}
