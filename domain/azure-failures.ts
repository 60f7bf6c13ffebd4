/**
 * Kept only until workflows/device.ts and activities/device-activities.ts import
 * `deviceErrorFor` from ./failure-reasons; then delete this file.
 */
import type { DeviceError } from './client-status';
import { deviceErrorFor, isFailureReason } from './failure-reasons';

/** @deprecated use `deviceErrorFor` (a type that is not a FailureReason counts as Transient). */
export function azureFailureError(reason: string, message: string): DeviceError {
  return deviceErrorFor(isFailureReason(reason) ? reason : 'Transient', message);
}
