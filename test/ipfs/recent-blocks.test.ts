import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRecentBlocks } from '../../src/ipfs/recent-blocks.ts'

const KB = 1024
const block = (n: number): Uint8Array => new Uint8Array(KB).fill(n)

test('blocks fetched through in the same order, more than the budget holds, still hit: a steady share of them', () => {
  const recent = createRecentBlocks({ maxBytes: 16 * KB, now: () => 0 })
  let hits = 0
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < 40; i++) {
      if (recent.get(`b${i}`) !== undefined) hits++
      else recent.set(`b${i}`, block(i))
    }
  }
  // 12 KB kept of 40 blocks, on each of the last two passes (a plain LRU has no hit at all)
  assert.equal(hits, 24)
  assert.deepEqual(recent.get('b0'), block(0))
  assert.equal(recent.get('b20'), undefined)
})

test('blocks asked again soon after share one read, when the kept part is full', () => {
  const recent = createRecentBlocks({ maxBytes: 16 * KB, now: () => 0 })
  for (let i = 0; i < 12; i++) recent.set(`k${i}`, block(i))
  // a second fetcher a block behind the first
  let hits = 0
  for (let i = 0; i < 100; i++) {
    recent.set(`n${i}`, block(i))
    if (i >= 1 && recent.get(`n${i - 1}`) !== undefined) hits++
  }
  assert.equal(hits, 99)
  // the trial part is a plain LRU of 4 KB
  assert.equal(recent.get('n90'), undefined)
  assert.deepEqual(recent.get('k0'), block(0))
})

test('a kept block unused for staleMs makes room for a newcomer, least recently used first', () => {
  let clock = 0
  const recent = createRecentBlocks({ maxBytes: 8 * KB, staleMs: 1000, now: () => clock })
  for (let i = 0; i < 6; i++) recent.set(`old${i}`, block(i))
  clock = 900
  recent.get('old0')
  clock = 1500
  // old1…old5 are stale, old0 is not
  for (let i = 0; i < 6; i++) recent.set(`new${i}`, block(i))
  assert.deepEqual(recent.get('old0'), block(0))
  for (let i = 0; i < 5; i++) assert.deepEqual(recent.get(`new${i}`), block(i), `new${i}`)
  assert.equal(recent.get('old1'), undefined)
  // the sixth found the kept part full of blocks in use: it went to the trial part
  assert.deepEqual(recent.get('new5'), block(5))
})

test('a block over a quarter of the budget is not kept', () => {
  const recent = createRecentBlocks({ maxBytes: 8 * KB })
  recent.set('big', new Uint8Array(2 * KB + 1))
  assert.equal(recent.get('big'), undefined)
})
