import { handledBefore, type EventLog, type Recorded, type StreamRef, type SubscribeOptions } from '../../domain/ports/event-log.ts';

const nameOf = (stream: StreamRef | string) => (typeof stream === 'string' ? stream : stream.name);

/**
 * An event log that knows when the service has caught up with it: `settled()` is true once every
 * subscription has handled every event appended to its stream (since it joined, for `from: 'end'`)
 * and no handler is running. It proves "all reactions have landed" where a test would otherwise
 * wait for the log to stay quiet for a while. Time-driven work (offer timers) is not covered.
 */
export function settledLog<L extends EventLog>(inner: L): L & { settled(): boolean } {
  const appended = new Map<string, string[]>();
  const watchers: { stream: string; from: number; handled: Set<string>; running: number }[] = [];
  const idsOf = (stream: string) => appended.get(stream) ?? appended.set(stream, []).get(stream)!;

  const log = { ...inner } as L & { settled(): boolean };
  log.append = (async (...args: Parameters<EventLog['append']>) => {
    const recorded = await inner.append(...args);
    idsOf(nameOf(args[0])).push(...recorded.map((e) => e.metadata.eventId));
    return recorded;
  }) as L['append'];
  log.subscribe = (async (stream: Parameters<EventLog['subscribe']>[0], options: SubscribeOptions) => {
    const w = { stream: nameOf(stream), from: options.from === 'end' ? idsOf(nameOf(stream)).length : 0, handled: new Set<string>(), running: 0 };
    watchers.push(w);
    const track = <A extends unknown[]>(fn: (...a: A) => Promise<void>, done: (...a: A) => readonly Recorded[]) => async (...a: A) => {
      w.running++;
      try {
        await fn(...a);
        for (const e of done(...a)) w.handled.add(e.metadata.eventId);
      } catch (err) {
        // A batch failure acknowledges the events before the one that failed: those are handled.
        for (const e of done(...a).slice(0, handledBefore(err))) w.handled.add(e.metadata.eventId);
        throw err;
      } finally {
        w.running--;
      }
    };
    const handler = options.handler && track(options.handler, (e: Recorded) => [e]);
    const batchHandler = options.batchHandler && track(options.batchHandler, (events: readonly Recorded[]) => events);
    return inner.subscribe(stream, { ...options, ...(handler && { handler }), ...(batchHandler && { batchHandler }) });
  }) as L['subscribe'];
  log.settled = () => watchers.every((w) => w.running === 0 && idsOf(w.stream).slice(w.from).every((id) => w.handled.has(id)));
  return log;
}
