// Backing servers for the scenarios, from the test helpers: a real redis-server and the Kafka mock.
import { startKafka, type KafkaCluster } from '../../test/support/kafka.ts';
import { startRedis, type RedisServer } from '../../test/support/redis.ts';
import { ADMIN } from '../../test/support/service.ts';
import type { ServerChild } from './child.ts';

export { startKafka, startRedis, type KafkaCluster, type RedisServer };

/** Redis as a deployment would run it for the log: AOF on, fsync every second. */
export const startBenchRedis = (aof = true) => startRedis(aof ? { aof: true, appendfsync: 'everysec' } : {});

/** POSTs JSON to the server's public API; throws on a non-2xx answer. */
export async function api<T = Record<string, any>>(server: ServerChild, path: string, body: unknown, token?: string): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Real accounts through the API: the admin creates each driver, who then logs in (scrypt both times). */
export async function createDrivers(server: ServerChild, count: number, concurrency = 4): Promise<{ userId: string; token: string }[]> {
  const admin = await api<{ token: string }>(server, '/v1/auth/login', ADMIN);
  const out: { userId: string; token: string }[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const username = `bench-driver-${i}-${Math.random().toString(36).slice(2, 7)}`;
        await api(server, '/v1/users', { username, password: 'password-123', role: 'driver' }, admin.token);
        const login = await api<{ token: string; userId: string }>(server, '/v1/auth/login', { username, password: 'password-123' });
        out[i] = { userId: login.userId, token: login.token };
      }
    }),
  );
  return out;
}
