import { describe, expect, it } from 'vitest';
import type { LiveMessage } from '../domain/ports/live-feed.ts';
import { beforeCut, makeMarks, makeWatch } from '../src/app/live/cut.ts';
import type { LocationMessage } from '../src/app/messages.ts';

const status = (version: number): LiveMessage => ({ type: 'ride.status', rideId: 'r_1', eventId: `rides:${version}` });
const location = (second: number): LocationMessage => ({
  type: 'driver.location', rideId: 'r_1', driverId: 'd_1', lat: 1, lng: 2, heading: null, speed: null,
  recordedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, second)).toISOString(), etaSeconds: null, eventId: `driver-locations:${second}`,
});
const ids = (sent: LiveMessage[]) => sent.map((m) => m.eventId);

describe('the replay/live cut', () => {
  it('a watch catching up holds live messages, then lets through only what the log did not already send, in order', () => {
    const sent: LiveMessage[] = [];
    let ended = 0;
    // As the hub does: the last message a viewer may see ends the watch.
    const watch = makeWatch('r_1', { send: (m) => void sent.push(m), last: () => (ended++, watch.end()) });
    watch.live(status(3), 3); // arrives live while the log is read
    watch.live(location(10) as unknown as LiveMessage);
    watch.fromLog(status(1), 1);
    watch.fromLog(status(2), 2);
    watch.fromLog(status(3), 3); // the log had it too
    watch.fromLog(location(9) as unknown as LiveMessage);
    expect(ids(sent)).toEqual(['rides:1', 'rides:2', 'rides:3', 'driver-locations:9']);
    watch.goLive();
    expect(ids(sent)).toEqual(['rides:1', 'rides:2', 'rides:3', 'driver-locations:9', 'driver-locations:10']);
    watch.live(status(2), 2); // a redelivery
    watch.live(location(8) as unknown as LiveMessage); // late
    watch.live(status(4), 4, true);
    watch.live(status(5), 5);
    expect(ids(sent).slice(5)).toEqual(['rides:4']);
    expect(ended).toBe(1);
  });

  it('what the client already saw (its `after`) is not sent again', () => {
    const sent: LiveMessage[] = [];
    const watch = makeWatch('r_1', { send: (m) => void sent.push(m), last: () => undefined });
    watch.seen({ version: 2 });
    watch.seen({ deviceAt: Date.parse(location(9).recordedAt) });
    for (const v of [1, 2, 3]) watch.fromLog(status(v), v);
    watch.fromLog(location(9) as unknown as LiveMessage);
    watch.goLive();
    expect(ids(sent)).toEqual(['rides:3']);
  });

  it("the hub's mark per ride: the last version and location pushed; once the ride ends, every location counts as pushed", () => {
    const marks = makeMarks(1);
    expect(marks.cutOf('r_1')).toBeNull();
    marks.rideEvent('r_1', 4, false);
    marks.location(location(9));
    expect(marks.cutOf('r_1')).toMatchObject({ version: 4, locationAt: Date.parse(location(9).recordedAt) });
    expect(beforeCut(marks.cutOf('r_1'), { version: 4 })).toBe(true);
    expect(beforeCut(marks.cutOf('r_1'), { version: 5 })).toBe(false);
    expect(beforeCut(marks.cutOf('r_1'), { deviceAt: Date.parse(location(10).recordedAt) })).toBe(false);
    marks.rideEvent('r_1', 6, true);
    expect(marks.cutOf('r_1')).toEqual({ version: 6, location: null, locationAt: Infinity });
    marks.rideEvent('r_1', 7, true); // fare, payment, rating still move the mark
    expect(marks.cutOf('r_1')?.version).toBe(7);
    marks.rideEvent('r_2', 3, true); // only one finished ride kept here
    expect(marks.cutOf('r_1')).toBeNull();
  });
});
