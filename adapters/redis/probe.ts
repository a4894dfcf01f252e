import { Redis } from 'ioredis';

/**
 * Checks a Redis URL before anything is built on it: well-formed, and a server answering PING
 * within `timeoutMs`. Resolves with null when all is well, else one sentence saying what is wrong
 * (the caller names the setting), so a wrong REDIS_URL is one line at start-up instead of every
 * client's reconnect errors. The password, if any, is never repeated.
 */
export async function probeRedis(url: string, timeoutMs = 3_000): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL (expected redis://host:6379 or rediss://…)`;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `must start with redis:// or rediss://, got ${parsed.protocol}//`;
  const shown = `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref());
  try {
    await Promise.race([redis.connect().then(() => redis.ping()), timer]);
    return null;
  } catch (err) {
    return `${shown} does not answer (${(lastError ?? (err as Error)).message})`;
  } finally {
    redis.disconnect();
  }
}
