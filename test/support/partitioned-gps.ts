import { getRedisChannels } from '../../adapters/redis/channels.ts';
import { getRedisPartitions } from '../../adapters/redis/partitions.ts';
import { getRedisScreeningStore } from '../../adapters/redis/screening.ts';
import { getRedisTracks } from '../../adapters/redis/tracks.ts';
import { streamLayout } from '../../adapters/redis/layout.ts';
import { systemClock } from '../../domain/ports/clock.ts';
import { RECENT_POINTS_KEPT } from '../../domain/tracking/clean.ts';
import type { Infrastructure } from '../../src/wiring.ts';

let instances = 0;
const quiet = { warn() {}, error() {} };

/** The partitioned-GPS part of a Redis infrastructure for an in-process service (as src/infrastructure.ts builds it). */
export function partitionedGpsOnRedis(url: string, prefix: string, shards: number): { infra: Pick<Infrastructure, 'partitioned' | 'tracks'>; close(): Promise<void> } {
  const channels = getRedisChannels({ url, prefix, logger: quiet });
  // Beside the GPS stream, laid out as the log's (same prefix and shards, system clock, no retention).
  const screening = getRedisScreeningStore({ url, prefix, kept: RECENT_POINTS_KEPT, log: { layout: streamLayout(prefix, shards), clock: systemClock } });
  const tracks = getRedisTracks({ url, prefix, retentionMs: 3_600_000 });
  const consumer = getRedisPartitions({
    url, prefix, stream: 'driver-locations', shards, group: 'gps', instanceId: `p${process.pid}-${++instances}`, leaseMs: 1_500, claimIdleMs: 1_000, blockMs: 500, logger: quiet,
  });
  return {
    infra: { partitioned: { consumer, channels, screening, fleetFeedMs: 100 }, tracks },
    close: async () => void (await Promise.all([channels.close(), screening.close(), tracks.close()])),
  };
}
