import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pgPlainArray, pgUuidArray } from './import-store.ts';

test('array literals for the import: plain values joined, UUIDs checked so nothing else slips into the literal', () => {
  assert.equal(pgPlainArray([1, -2, 3]), '{1,-2,3}');
  assert.equal(pgPlainArray([true, false]), '{true,false}');
  assert.equal(pgPlainArray([]), '{}');
  const id = '0190a5b2-0000-7000-8000-00000000000a';
  assert.equal(pgUuidArray([id, id.toUpperCase()]), `{${id},${id.toUpperCase()}}`);
  for (const bad of [`${id},${id}`, `${id}}`, 'x', '', ` ${id}`])
    assert.throws(() => pgUuidArray([id, bad]), /not a canonical UUID/);
});
