/**
 * fast-check arbitraries of device lives. Steps are generated abstractly (an Azure device id is an
 * index into the device's small pool, a time is a shift from the newest time so far) and made
 * concrete by `Materializer`, so one shape serves the pure test (made-up ids) and the real stack
 * (ids and users seeded in the emulator).
 */
import fc from 'fast-check';
import { CLIENT_STATUS_CODES } from '../../domain/constants';
import type { ClientStatusCode, MdmEvent, MicrosoftFault, Platform, PolicyAction, Step } from './reference-model';

const NON_RETIRE_ACTIONS: readonly PolicyAction[] = ['QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL', 'SEND_ALERT'];
const ALL_ACTIONS: readonly PolicyAction[] = ['RETIRE', ...NON_RETIRE_ACTIONS];

/** Azure device ids per device (ids repeat within a device's life) and users per device. */
export const IDS_PER_DEVICE = 3;
export const USERS_PER_DEVICE = 2;

/** When an event occurred, relative to the newest time generated so far for the device. */
export type TimeShift =
  | { kind: 'later'; byMs: number }
  | { kind: 'older'; byMs: number }
  /** The same instant as an earlier event of the device (the `pick`-th, modulo). */
  | { kind: 'equal'; pick: number };

export type AbstractEvent =
  | { type: 'registration'; id: number | null; code: ClientStatusCode; user: number; platform: Platform }
  | { type: 'compliance'; actions: PolicyAction[] }
  | { type: 'inventory'; n: number }
  | { type: 'retire' };

/** `ticks`: how far the device's workflow gets before the next step (0: the next step arrives at once). */
export type AbstractDeviceStep =
  | { kind: 'new'; event: AbstractEvent; time: TimeShift; offsetZone: boolean; ticks: number }
  /** The previous event again, at once (an exact duplicate). */
  | { kind: 'duplicate'; ticks: number }
  /** An earlier event sent again, as a client does after a timeout. */
  | { kind: 'redeliver'; pick: number; ticks: number };

export type GlobalStep = Exclude<Step, { kind: 'event' }>;

const ticksArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 2 }) },
  { weight: 1, arbitrary: fc.integer({ min: 3, max: 6 }) },
);

const timeArb: fc.Arbitrary<TimeShift> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 60_000 }).map((byMs) => ({ kind: 'later' as const, byMs })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 600_000 }).map((byMs) => ({ kind: 'older' as const, byMs })) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: 'equal' as const, pick })) },
);

const codeArb: fc.Arbitrary<ClientStatusCode> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<ClientStatusCode>('Success') },
  { weight: 2, arbitrary: fc.constantFrom(...CLIENT_STATUS_CODES.slice(1)) },
);

export const registrationArb: fc.Arbitrary<AbstractEvent> = fc
  .record({
    code: codeArb,
    id: fc.integer({ min: 0, max: IDS_PER_DEVICE - 1 }),
    // A client that could not get an id sends null (never with Success).
    noId: fc.boolean(),
    user: fc.integer({ min: 0, max: USERS_PER_DEVICE - 1 }),
    platform: fc.constantFrom<Platform>('iOS', 'Android'),
  })
  .map(({ code, id, noId, user, platform }) => ({
    type: 'registration' as const,
    code,
    id: code !== 'Success' && noId ? null : id,
    user,
    platform,
  }));

const actionsArb: fc.Arbitrary<PolicyAction[]> = fc.oneof(
  { weight: 6, arbitrary: fc.subarray([...NON_RETIRE_ACTIONS]) },
  { weight: 1, arbitrary: fc.subarray([...ALL_ACTIONS]) },
);

export const eventArb: fc.Arbitrary<AbstractEvent> = fc.oneof(
  { weight: 4, arbitrary: registrationArb },
  { weight: 4, arbitrary: actionsArb.map((actions) => ({ type: 'compliance' as const, actions })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 99 }).map((n) => ({ type: 'inventory' as const, n })) },
  { weight: 1, arbitrary: fc.constant({ type: 'retire' as const }) },
);

export const deviceStepArb: fc.Arbitrary<AbstractDeviceStep> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({ kind: fc.constant('new' as const), event: eventArb, time: timeArb, offsetZone: fc.boolean(), ticks: ticksArb }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), ticks: ticksArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('redeliver' as const), pick: fc.nat(), ticks: ticksArb }) },
);

/** Most devices start with a successful registration; some start with anything. */
const firstStepArb: fc.Arbitrary<AbstractDeviceStep> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('new' as const),
      event: registrationArb.map((r) => ({ ...r, code: 'Success' as const, id: (r as { id: number | null }).id ?? 0 })),
      time: fc.constant({ kind: 'later' as const, byMs: 1_000 }),
      offsetZone: fc.constant(false),
      ticks: ticksArb,
    }),
  },
  { weight: 1, arbitrary: deviceStepArb },
);

export function deviceStepsArb(minLength: number, maxLength: number): fc.Arbitrary<AbstractDeviceStep[]> {
  return fc
    .tuple(firstStepArb, fc.array(deviceStepArb, { minLength: Math.max(0, minLength - 1), maxLength: maxLength - 1 }))
    .map(([first, rest]) => [first, ...rest]);
}

export const faultArb: fc.Arbitrary<MicrosoftFault> = fc.constantFrom<MicrosoftFault>('unavailable', 'throttled', 'failedMessages');

export const globalStepArb: fc.Arbitrary<GlobalStep> = fc.oneof(
  { weight: 2, arbitrary: fc.boolean().map((enabled) => ({ kind: 'reporting' as const, enabled })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sync' as const }) },
  { weight: 2, arbitrary: fc.option(faultArb, { nil: null, freq: 2 }).map((fault) => ({ kind: 'microsoft' as const, fault })) },
);

/** One device with global steps mixed in (the pure test). */
export type MixedStep = { kind: 'device'; step: AbstractDeviceStep } | { kind: 'global'; step: GlobalStep };

export function mixedSequenceArb(minLength: number, maxLength: number): fc.Arbitrary<MixedStep[]> {
  return fc
    .tuple(deviceStepsArb(minLength, maxLength), fc.array(fc.tuple(fc.nat(), globalStepArb), { maxLength: Math.ceil(maxLength / 3) }))
    .map(([device, globals]) => {
      const out: MixedStep[] = device.map((step) => ({ kind: 'device' as const, step }));
      for (const [at, step] of globals) out.splice(at % (out.length + 1), 0, { kind: 'global', step });
      return out;
    });
}

/** A real-stack run: per device, its steps per round; global steps run between rounds (and before the first). */
export interface StackRun {
  devices: AbstractDeviceStep[][][];
  /** `between[r]` runs before round r. */
  between: GlobalStep[][];
}

export function stackRunArb(devices: number, rounds: number, minSteps: number, maxSteps: number): fc.Arbitrary<StackRun> {
  const device = fc
    .tuple(deviceStepsArb(minSteps, maxSteps), fc.array(fc.nat(), { minLength: rounds - 1, maxLength: rounds - 1 }))
    .map(([steps, cuts]) => {
      // Split the device's steps into `rounds` consecutive slices.
      const points = cuts.map((c) => c % (steps.length + 1)).sort((a, b) => a - b);
      const bounds = [0, ...points, steps.length];
      return Array.from({ length: rounds }, (_, r) => steps.slice(bounds[r], bounds[r + 1]));
    });
  return fc.record({
    devices: fc.array(device, { minLength: devices, maxLength: devices }),
    between: fc.array(fc.array(globalStepArb, { maxLength: 2 }), { minLength: rounds, maxLength: rounds }),
  });
}

/** The concrete ids of one device: Azure device ids (GUIDs) and user principal names. */
export interface DevicePools {
  azureDeviceIds: readonly string[];
  userPrincipalNames: readonly string[];
}

/** Turns abstract device steps into events with real times; keeps the state across calls (rounds). */
export class Materializer {
  private newest: number;
  private readonly times: number[] = [];
  private readonly sent: MdmEvent[] = [];

  constructor(
    private readonly pools: DevicePools,
    /** The first event's time; every time generated stays at or before `now`. */
    start: number,
    private readonly now: number,
  ) {
    this.newest = start;
  }

  /** The event a step sends (null: a duplicate or re-delivery before any event was sent). */
  event(step: AbstractDeviceStep): MdmEvent | null {
    if (step.kind === 'duplicate') return this.again(this.sent.length - 1);
    if (step.kind === 'redeliver') return this.sent.length === 0 ? null : this.again(step.pick % this.sent.length);
    let t: number;
    if (step.time.kind === 'later') t = this.newest = Math.min(this.newest + step.time.byMs, this.now);
    else if (step.time.kind === 'older') t = this.newest - step.time.byMs;
    else t = this.times.length === 0 ? this.newest : this.times[step.time.pick % this.times.length]!;
    this.times.push(t);
    const occurredAt = formatInstant(t, step.offsetZone);
    const e = step.event;
    let event: MdmEvent;
    switch (e.type) {
      case 'registration':
        event = {
          type: 'registration',
          occurredAt,
          platform: e.platform,
          azureDeviceId: e.id === null ? null : this.pools.azureDeviceIds[e.id % this.pools.azureDeviceIds.length]!,
          clientStatusCode: e.code,
          userPrincipalName: this.pools.userPrincipalNames[e.user % this.pools.userPrincipalNames.length]!,
        };
        break;
      case 'compliance':
        event = { type: 'compliance', occurredAt, actions: [...e.actions] };
        break;
      case 'inventory':
        event = { type: 'inventory', occurredAt, inventory: { deviceName: `phone-${e.n}`, os: 'iOS', osVersion: `17.${e.n}` } };
        break;
      case 'retire':
        event = { type: 'retire', occurredAt };
        break;
    }
    this.sent.push(event);
    return event;
  }

  private again(index: number): MdmEvent | null {
    const e = this.sent[index];
    if (e === undefined) return null;
    this.sent.push(e);
    return structuredClone(e);
  }
}

/** An instant as the MDM may write it: UTC (`Z`) or the same instant at +01:00. */
export function formatInstant(t: number, offsetZone: boolean): string {
  if (!offsetZone) return new Date(t).toISOString();
  return new Date(t + 3_600_000).toISOString().replace('Z', '+01:00');
}

/** Made-up pools for the pure test: GUID-shaped ids unique per device. */
export function syntheticPools(device: number): DevicePools {
  const hex = device.toString(16).padStart(8, '0');
  return {
    azureDeviceIds: Array.from({ length: IDS_PER_DEVICE }, (_, i) => `${hex}-0000-4000-8000-${String(i).padStart(12, '0')}`),
    userPrincipalNames: Array.from({ length: USERS_PER_DEVICE }, (_, i) => `user-${device}-${i}@contoso.com`),
  };
}
