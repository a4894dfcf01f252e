/**
 * Group commit: requests to one lane (one Redis node, or one hash slot on a cluster) go out together.
 * The first request of an idle lane leaves at the end of the current turn of the event loop (with
 * whatever else that turn asked for); while a call is in flight, later requests queue, and when it
 * returns they leave as the next call. No timer, so nothing waits when the lane is idle, and a batch
 * grows with the load and the round trip: at 2,000 GPS points a second, open loop, a point usually
 * arrives alone in its turn, and a per-turn batch (auto-pipelining) was one script call and one
 * socket write per point; each write wakes redis-server, which costs the service and Redis alike.
 *
 * `send` answers one result per request, in order, or rejects: then every request of that call
 * rejects with its error (each caller sees the fault as if it had called alone).
 */
export function makeGroupCommit<Req, Res>(send: (lane: string, batch: readonly Req[]) => Promise<readonly Res[]>, { maxBatch = 256 } = {}) {
  interface Waiting {
    readonly request: Req;
    resolve(result: Res): void;
    reject(err: unknown): void;
  }
  const lanes = new Map<string, { queue: Waiting[]; busy: boolean }>();

  function flush(lane: string): void {
    const state = lanes.get(lane)!;
    if (state.queue.length === 0) {
      state.busy = false;
      lanes.delete(lane);
      return;
    }
    const batch = state.queue.splice(0, maxBatch);
    state.busy = true;
    let settled: Promise<readonly Res[]>;
    try {
      settled = send(lane, batch.map((w) => w.request));
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled.then(
      (results) => {
        if (results.length !== batch.length) throw new Error(`group commit: ${results.length} results for ${batch.length} requests`);
        batch.forEach((w, i) => w.resolve(results[i]!));
      },
    ).catch((err: unknown) => {
      for (const w of batch) w.reject(err);
    }).finally(() => flush(lane));
  }

  return {
    /** Queues `request` on `lane`; resolves with its own result when its call returns. */
    submit(lane: string, request: Req): Promise<Res> {
      return new Promise<Res>((resolve, reject) => {
        let state = lanes.get(lane);
        if (!state) lanes.set(lane, (state = { queue: [], busy: false }));
        state.queue.push({ request, resolve, reject });
        if (state.busy || state.queue.length > 1) return;
        state.busy = true;
        setImmediate(flush, lane);
      });
    },
  };
}
