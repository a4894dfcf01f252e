import WebSocket from 'ws';
import { client, startService } from '../test/support/service.ts';
const s = await startService();
const api = client(s.app);
const driver = await api.user('driver');
const rider = await api.user('rider');
await s.app.listen({ port: 0, host: '127.0.0.1' });
const port = (s.app.server.address() as any).port;
const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { headers: { authorization: `Bearer ${driver.token}` } });
await new Promise((r) => ws.once('open', r));
const got: any[] = [];
ws.on('message', (m) => got.push(JSON.parse(m.toString())));
const send = async (m: string | Buffer, binary = false) => { const n = got.length; ws.send(m, { binary }); const t = Date.now(); while (got.length === n && Date.now() - t < 1000) await new Promise((r) => setTimeout(r, 5)); console.log(JSON.stringify(m.toString()).slice(0, 80), '→', JSON.stringify(got.at(-1))); };
await send(JSON.stringify({ type: 'location', lat: 38.7, lng: -9.1, recordedAt: new Date(Date.now() - 1000).toISOString() }));
await send(JSON.stringify({ type: 'location', lat: 38.7, lng: -9.1, recordedAt: Date.now() - 500 }));
await send(JSON.stringify({ type: 'location', lat: 38.7, lng: -9.1, recordedAt: '2016-12-31T23:59:60Z' }));
await send(JSON.stringify({ type: 'location', lat: 38.7, lng: -9.1, recordedAt: Date.now() - 400, extra: 1 }));
await send('{"type":"ping","__proto__":{"polluted":1}}');
await send(Buffer.from('{"type":"ping"}'), true);
await send('[' .repeat(7000) + ']'.repeat(7000));
await send('{"type":"ping"}');
console.log('polluted', ({} as any).polluted);
// oversize
const closed = new Promise((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
ws.send('x'.repeat(20000));
console.log('oversize close', await closed);
// rate
const ws2 = new WebSocket(`ws://127.0.0.1:${port}/v1/stream?access_token=${rider.token}`);
await new Promise((r) => ws2.once('open', r));
const g2: any[] = []; ws2.on('message', (m) => g2.push(JSON.parse(m.toString())));
for (let i = 0; i < 150; i++) ws2.send('{"type":"ping"}');
await new Promise((r) => setTimeout(r, 300));
console.log('rate', g2.filter((m) => m.type === 'pong').length, g2.filter((m) => m.code === 'RATE_LIMITED').length);
// concurrent socket cap
const opens = await Promise.all(Array.from({ length: 30 }, () => new Promise((r) => { const w = new WebSocket(`ws://127.0.0.1:${port}/v1/stream?access_token=${rider.token}`); w.once('open', () => r('open')); w.once('unexpected-response', (_q, res) => r(res.statusCode)); w.once('error', (e) => r(String(e))); })));
console.log('concurrent', opens.filter((x) => x === 'open').length, s.ridecast.hub.socketsOf(rider.userId));
console.log(await Promise.all(['rides','drivers','driver-locations'].map(async (x) => (await s.ctx.log.read(x as any)).length)));
await s.close();
process.exit(0);
