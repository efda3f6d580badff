import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, requestArgsHash } from '../../src/domain/canonical-json.js';

test('keys are sorted at every depth and there is no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
});

test('strings and numbers are written as JSON writes them', () => {
  assert.equal(canonicalJson({ s: 'é"\n', n: 1e21, f: 0.1, neg: -0, t: true, nil: null }), '{"f":0.1,"n":1e+21,"neg":0,"nil":null,"s":"é\\"\\n","t":true}');
});

test('keys sort by UTF-16 code units (RFC 8785)', () => {
  assert.equal(canonicalJson({ '\u00e9': 1, z: 2, Z: 3, '\ud83d\ude00': 4 }), '{"Z":3,"z":2,"é":1,"😀":4}');
});

test('request_args_hash is the SHA-1 hex of the canonical JSON, "" without arguments', () => {
  const args = { formats: ['text', 'data'], math_inline_delimiters: ['$', '$'] };
  const expected = createHash('sha1').update('{"formats":["text","data"],"math_inline_delimiters":["$","$"]}').digest('hex');
  assert.equal(requestArgsHash(args), expected);
  assert.match(requestArgsHash(args), /^[0-9a-f]{40}$/);
  assert.equal(requestArgsHash(undefined), '');
});

test('property: key order never changes the hash, and canonical JSON parses back to the same value', () => {
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
    const reversed = Object.fromEntries(Object.entries(obj).reverse());
    assert.equal(requestArgsHash(obj), requestArgsHash(reversed));
    assert.deepEqual(JSON.parse(canonicalJson(obj)), JSON.parse(JSON.stringify(obj)));
  }), { numRuns: 500 });
});

test('arguments nested far deeper than the call stack is high are written, not a stack overflow', () => {
  const depth = 200_000;
  let deep: unknown = 1;
  for (let i = 0; i < depth; i++) deep = i % 2 === 0 ? [deep] : { b: deep, a: null };
  const text = canonicalJson(deep);
  assert.ok(text.startsWith('{"a":null,"b":[{"a":null,"b":['), text.slice(0, 40));
  assert.equal(text.length, (depth / 2) * ('{"a":null,"b":'.length + '}'.length + 2) + 1);
  assert.match(requestArgsHash({ deep }), /^[0-9a-f]{40}$/);
});

test('property: arrays, undefined and functions are written as JSON.stringify writes them', () => {
  const scalar = fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constant(() => 1));
  fc.assert(fc.property(fc.array(fc.oneof(scalar, fc.array(scalar))), (items) => {
    assert.equal(canonicalJson(items), JSON.stringify(items));
  }), { numRuns: 300 });
});
