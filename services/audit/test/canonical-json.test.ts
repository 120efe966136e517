// RFC 8785 canonical JSON: the RFC's own examples, and by property the `canonicalize` package (by the RFC's author).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { canonicalJson } from '../src/canonical-json.ts';

describe('canonical JSON (RFC 8785)', () => {
  test('the RFC example of numbers, strings and literals', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(canonicalJson(input), '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  test('keys sort by UTF-16 code units (the RFC example)', () => {
    const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    // Read the order off the text: a parsed object would list the integer-like key '1' first.
    const values = [...canonicalJson(input).matchAll(/:"([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(values, ['Carriage Return', 'One', 'Control', 'Latin Small Letter O With Diaeresis', 'Euro Sign', 'Emoji: Grinning Face', 'Hebrew Letter Dalet With Dagesh']);
  });

  test('nested objects are sorted, whitespace is gone, and what JSON cannot say is refused', () => {
    assert.equal(canonicalJson({ b: [{ z: 1, a: 2 }], a: { y: null, x: 'é' } }), '{"a":{"x":"é","y":null},"b":[{"a":2,"z":1}]}');
    assert.throws(() => canonicalJson({ n: Number.NaN }));
    assert.throws(() => canonicalJson({ s: '\ud800' }), /surrogate/);
    assert.throws(() => canonicalJson(undefined));
  });

  test('equal values give equal text whatever the key order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null))), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        assert.equal(canonicalJson(dict), canonicalJson(reversed));
        assert.deepEqual(JSON.parse(canonicalJson(dict)), JSON.parse(JSON.stringify(dict)));
      }),
    );
  });
});

describe('canonical JSON against the canonicalize package', () => {
  test('the same text for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        assert.equal(canonicalJson(value), canonicalize(value));
      }),
      { numRuns: 2000 },
    );
  });

  test('the same text for full-Unicode keys and strings, and for doubles', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'grapheme' }), fc.oneof(fc.string({ unit: 'binary' }), fc.double({ noNaN: true, noDefaultInfinity: true }))), (value) => {
        assert.equal(canonicalJson(value), canonicalize(value));
      }),
      { numRuns: 1000 },
    );
  });
});
