import { Ajv } from 'ajv';
const a = new Ajv({ coerceTypes: 'array', code: { source: true } });
const v = a.compile({ type: 'object', properties: { lat: { type: 'number', maximum: 90 } } });
console.log(v.toString());
