import type { Fleet } from '../../projections/fleet/index.ts';

/**
 * What the operators' status panel shows, pushed every few seconds to fleet watchers. With GPS
 * work partitioned, `locationsPerSecond` counts the points this instance handled (its shards).
 */
export function fleetStatsMessage(fleet: Fleet, o: { seconds: number; activeRides: number; ridesCompleted: number; locations: number; dispatch: object }) {
  let driversOnline = 0;
  let driversOnTrip = 0;
  for (const d of fleet.all()) {
    if (d.available) driversOnline++;
    if (d.rideId) driversOnTrip++;
  }
  return {
    type: 'fleet.stats',
    driversOnline,
    driversOnTrip,
    activeRides: o.activeRides,
    ridesCompleted: o.ridesCompleted,
    locationsPerSecond: Math.round(o.locations / Math.max(0.001, o.seconds)),
    ...o.dispatch,
  };
}
