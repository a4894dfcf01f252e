import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.ts';

/** A Lua script and its SHA-1, the name Redis caches it under. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

export const luaScript = (lua: string): LuaScript => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });

/**
 * EVALSHA with every key declared, and EVAL once if Redis does not know the script (a restart, a
 * failover, SCRIPT FLUSH). For scripts whose key count varies per call: ioredis' defineCommand routes
 * those by their first argument (the key count, not a key), which on a cluster mixes slots in one
 * auto-pipelined batch; EVALSHA is a command ioredis knows, so it is routed by its first key.
 */
export async function evalScript(redis: RedisClient, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!/NOSCRIPT/.test(String(err))) throw err;
    return redis.eval(script.lua, keys.length, ...keys, ...args);
  }
}
