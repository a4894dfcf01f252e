import { Ajv } from 'ajv';
const a = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: true, strictNumbers: true });
const v = a.compile({ type: 'object', properties: { lat: { type: 'number', minimum: -90, maximum: 90 } } });
for (const x of ['Infinity', '1e400', '-Infinity', '5']) { const o: any = { lat: x }; console.log(x, v(o), o, v.errors?.[0]?.message); }
const v2 = a.compile({ type: 'object', properties: { lat: { type: 'number', maximum: 90 } } });
const o: any = { lat: 100 }; console.log('plain', v2(o));
const o2: any = { lat: '100' }; console.log('str100', v2(o2), o2);
