import { describe, expect, it } from 'vitest';
import type { Peer } from '../domain/ports/live-feed.ts';
import { makeRegistry } from '../src/app/live/registry.ts';

// The registry is the live hub's bookkeeping: which watches a ride's points reach. It keeps each
// ride's watches by peer (one lookup per point); these pin down what that must still answer.
const peer = (userId: string) => ({ actor: { userId, role: 'rider' }, send: () => undefined, buffered: () => 0, close: () => undefined }) as unknown as Peer;
const watch = (rideId: string, label: string) => ({ rideId, label, ended: false, end() { this.ended = true; } });
type W = ReturnType<typeof watch>;

const reached = (registry: ReturnType<typeof makeRegistry<W>>, rideId: string) => {
  const labels: string[] = [];
  registry.forEachWatch(rideId, (w, into: string[]) => into.push(w.label), labels);
  return labels.sort();
};

describe('live registry', () => {
  it("reaches every peer's current watch of a ride once, and only that ride's", () => {
    const registry = makeRegistry<W>();
    const [a, b] = [peer('a'), peer('b')];
    registry.connect(a);
    registry.connect(b);
    registry.startWatch(a, watch('r1', 'a-r1'));
    registry.startWatch(b, watch('r1', 'b-r1'));
    registry.startWatch(b, watch('r2', 'b-r2'));
    expect(reached(registry, 'r1')).toEqual(['a-r1', 'b-r1']);
    expect(reached(registry, 'r2')).toEqual(['b-r2']);
    expect(reached(registry, 'r3')).toEqual([]);
    expect(registry.watchersOf('r1').map(([p, w]) => [p.actor.userId, w.label])).toEqual([['a', 'a-r1'], ['b', 'b-r1']]);
  });

  it('a watch that replaced another is the one reached; ending the replaced one leaves it', () => {
    const registry = makeRegistry<W>();
    const a = peer('a');
    registry.connect(a);
    const first = watch('r1', 'first');
    registry.startWatch(a, first);
    const second = watch('r1', 'second');
    expect(registry.startWatch(a, second)).toBe(first);
    registry.endWatch(a, first);
    expect(first.ended).toBe(true);
    expect(reached(registry, 'r1')).toEqual(['second']);
    expect(registry.watchOf(a, 'r1')).toBe(second);
    registry.endWatch(a, second);
    expect(reached(registry, 'r1')).toEqual([]);
    expect(registry.watchersOf('r1')).toEqual([]);
  });

  it('a forgotten peer ends its watches and is reached no more, even mid-iteration', () => {
    const registry = makeRegistry<W>();
    const [a, b, c] = [peer('a'), peer('b'), peer('c')];
    for (const p of [a, b, c]) registry.connect(p);
    const wa = watch('r1', 'a');
    registry.startWatch(a, wa);
    registry.startWatch(b, watch('r1', 'b'));
    registry.startWatch(c, watch('r1', 'c'));
    // The first peer reached drops another (a slow consumer closed while sending): it is skipped.
    const labels: string[] = [];
    registry.forEachWatch('r1', (w) => {
      labels.push(w.label);
      if (labels.length === 1) registry.forget(w.label === 'c' ? b : c);
    }, undefined);
    expect(labels).toHaveLength(2);
    registry.forget(a);
    expect(wa.ended).toBe(true);
    expect(reached(registry, 'r1')).toHaveLength(1);
    expect(registry.connected(a)).toBe(false);
  });
});
