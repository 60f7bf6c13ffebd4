/** MDM events for the pure domain tests: one Azure device, strictly increasing event times. */
import type { DeviceEvent } from '../../domain/events';

export const AZ = '007c8232-9489-4074-9b35-345b16f0a72d';
let t = Date.parse('2026-11-28T10:00:00.000Z');
/** The next event time, a second after the previous one. */
export const at = (): string => new Date((t += 1_000)).toISOString();
/** The newest event time handed out so far (ms). */
export const latest = (): number => t;

export const reg = (over: Partial<Extract<DeviceEvent, { type: 'registration' }>> = {}): DeviceEvent => ({
  type: 'registration',
  occurredAt: at(),
  platform: 'iOS',
  azureDeviceId: AZ,
  clientStatusCode: 'Success',
  userPrincipalName: 'alex@contoso.com',
  ...over,
});
export const comp = (actions: Extract<DeviceEvent, { type: 'compliance' }>['actions'], occurredAt = at()): DeviceEvent => ({
  type: 'compliance',
  occurredAt,
  actions,
});
