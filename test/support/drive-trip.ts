import type { Http } from './http-client.ts';

/**
 * A driver's phone during a trip: a point every `everyMs` of real time, moving from `from` towards
 * `to` at a drivable speed, device times 2 s apart ending near now. It keeps going until `attributed()`
 * says the ride's watchers got one (the instance files a point under the ride only once its own
 * projection has seen the assignment, which on a broker can lag the HTTP answer), then sends `extra`
 * more. Returns the device time of the last point sent.
 */
export async function driveTrip(
  api: Http,
  token: string,
  from: { lat: number; lng: number },
  to: { lat: number; lng: number },
  attributed: () => boolean,
  { extra = 3, everyMs = 250, timeoutMs = 45_000, startAt = Date.now() - 20_000 } = {},
): Promise<number> {
  const steps = 40;
  const deadline = Date.now() + timeoutMs;
  let last = startAt;
  let after = -1;
  for (let i = 1; ; i++) {
    const f = Math.min(1, i / steps);
    last = Math.min(startAt + i * 2_000, Date.now() + 20_000);
    const p = { lat: from.lat + (to.lat - from.lat) * f, lng: from.lng + (to.lng - from.lng) * f, recordedAt: last };
    const r = await api.post('/v1/drivers/me/locations', token, p);
    if (r.status !== 202 || r.body.accepted !== 1) throw new Error(`trip point refused: ${r.status} ${JSON.stringify(r.body)} ${r.error ?? ''}`);
    if (after < 0 && attributed()) after = 0;
    if (after >= 0 && after++ >= extra) return last;
    if (Date.now() > deadline) throw new Error(`no trip point reached the ride's watchers within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
