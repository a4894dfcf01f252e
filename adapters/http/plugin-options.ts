/**
 * Fails a plugin's registration, at start-up, when a service it drives is missing: a route group
 * registered without its service would otherwise answer 500 on its first request.
 */
export function requireServices<T extends object>(plugin: string, options: T | undefined, names: readonly (keyof T & string)[]): T {
  const given = (options ?? {}) as Record<string, unknown>;
  const missing = names.filter((name) => given[name] === undefined || given[name] === null);
  if (missing.length > 0) throw new Error(`${plugin}: missing service option${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return options as T;
}
