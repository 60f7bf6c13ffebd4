/** The floor's one activity: as little as an activity can do (returns the device id). */
import type { FloorEvent } from './workflows';

export function createFloorActivities() {
  return {
    async recordEvent(event: FloorEvent): Promise<string> {
      return event.deviceId;
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
