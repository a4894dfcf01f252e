import type { AppendOptions, Event, EventLog, ReadOptions, Recorded, StreamRef, SubscribeOptions, Subscription } from '../../domain/ports/event-log.ts';

/**
 * A log as its own tests see it: any event on any stream. The log stores events without reading
 * them, so its tests append stand-ins (`{ type: 'Numbered' }`) the typed port would refuse.
 */
export type OpaqueLog<L = EventLog> = Omit<L, 'append' | 'readKey' | 'read' | 'subscribe'> & {
  append(stream: StreamRef, key: string, events: readonly Event[], options?: AppendOptions): Promise<Recorded[]>;
  readKey(stream: StreamRef, key: string): Promise<Recorded[]>;
  read(stream: StreamRef, options?: ReadOptions): Promise<Recorded[]>;
  subscribe(stream: StreamRef, options: SubscribeOptions): Promise<Subscription>;
};

export const opaque = <L>(log: L): OpaqueLog<L> => log as unknown as OpaqueLog<L>;
