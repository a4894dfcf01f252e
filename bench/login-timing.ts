// `npx tsx bench/login-timing.ts`: how long a failed login takes for a known name (wrong password)
// and for an unknown one, interleaved, medians over N tries each. With the dummy-hash check the two
// should be within a few percent; the "lookup only" row is what an unknown name cost before
// (no scrypt at all), measured in the same run as a baseline.
import { performance } from 'node:perf_hooks';
import { getInMemoryAttemptCounter } from '../adapters/memory/attempts.ts';
import { getInMemoryUserStore } from '../adapters/memory/users.ts';
import { makeAccounts } from '../src/app/accounts.ts';

const N = Number(process.env.TRIES ?? 40);
const users = getInMemoryUserStore();
let n = 0;
const accounts = makeAccounts(users, (p) => `${p}_${++n}`, {
  attempts: getInMemoryAttemptCounter(),
  limits: { perAccount: 1e9, perAddress: 1e9 },
});
await accounts.create('known-user', 'the-right-password', 'rider');

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn().catch(() => undefined);
  return performance.now() - t0;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const known: number[] = [];
const unknown: number[] = [];
const lookupOnly: number[] = [];
await accounts.login('unknown-user', 'x', '0.0.0.0').catch(() => undefined); // the dummy hash is ready
for (let i = 0; i < N; i++) {
  known.push(await timed(() => accounts.login('known-user', `wrong-${i}`, '1.1.1.1')));
  unknown.push(await timed(() => accounts.login(`unknown-${i}`, `wrong-${i}`, '1.1.1.1')));
  lookupOnly.push(await timed(() => users.findByUsername(`unknown-${i}`)));
}
const rows = [
  ['known name, wrong password', median(known)],
  ['unknown name (dummy hash)', median(unknown)],
  ['unknown name, lookup only (before)', median(lookupOnly)],
] as const;
console.log(`login timing, ${N} tries each, median ms`);
for (const [what, ms] of rows) console.log(`${what.padEnd(38)} ${ms.toFixed(2).padStart(8)}`);
console.log(`unknown / known: ${(median(unknown) / median(known)).toFixed(2)} (before: ${(median(lookupOnly) / median(known)).toFixed(3)})`);
