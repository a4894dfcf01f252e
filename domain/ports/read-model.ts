import type { Ride } from '../ride/state.ts';

/** A stored ride document is the ride as the decider folds it (its `version` orders the writes). */
export type RideDocument = Ride;

/** A point of a trip's cleaned track. */
export interface TrackPoint {
  readonly lat: number;
  readonly lng: number;
  /** Device time. */
  readonly recordedAt: number;
  readonly eventId: string;
  /** When the log recorded it: orders the point among the ride's other events on replay. */
  readonly loggedAt: number;
}

/** One ride's new track points, as `addTracks` takes them. */
export interface RideTrackPoints {
  readonly rideId: string;
  readonly points: readonly TrackPoint[];
}

/**
 * The rides read model (memory by default, MongoDB with READ_MODEL=mongo). Writers only move a
 * document forward: `save` ignores a document whose version is not newer than the stored one.
 */
export interface RideReadModel {
  get(rideId: string): Promise<RideDocument | null>;
  save(doc: RideDocument): Promise<void>;
  /** Rides not yet completed, cancelled or unmatched. */
  active(): Promise<RideDocument[]>;
  addTrackPoints(rideId: string, points: readonly TrackPoint[]): Promise<void>;
  /** Several rides' points (one consumer batch) in one write, each ride as `addTrackPoints` keeps it. */
  addTracks(tracks: readonly RideTrackPoints[]): Promise<void>;
  /** The trip's points in device-time order, duplicates removed. */
  track(rideId: string): Promise<TrackPoint[]>;
  /** Drops everything (rebuild). */
  clear(): Promise<void>;
  close(): Promise<void>;
}
