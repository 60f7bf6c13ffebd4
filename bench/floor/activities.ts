/** The floor's activities: as little as an activity can do (each returns the device id). */
import type { FloorEvent } from './workflows';

export function createFloorActivities() {
  return {
    async recordEvent(event: FloorEvent): Promise<string> {
      return event.deviceId;
    },
    /** The shaped floor's read-model write, run as a local activity: nothing written. */
    async recordLocally(event: FloorEvent): Promise<string> {
      return event.deviceId;
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
