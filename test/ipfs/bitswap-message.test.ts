import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import test from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeMessage, DONT_HAVE, encodeMessage, HAVE, MessageReader, WANT_BLOCK, WANT_HAVE } from '../../src/ipfs/bitswap-message.ts'
import { rawCidOf } from '../../src/ipfs/cid.ts'

const blocks = [randomBytes(70_000), randomBytes(3), randomBytes(200_000)].map((data) => ({ cid: rawCidOf(data), data }))
const wire = encodeMessage({
  wants: [{ cid: blocks[0]!.cid, cancel: false, wantType: WANT_BLOCK, sendDontHave: true }, { cid: blocks[1]!.cid, cancel: true, wantType: WANT_HAVE, sendDontHave: false }],
  blocks,
  presences: [{ cid: blocks[1]!.cid, type: DONT_HAVE }, { cid: blocks[2]!.cid, type: HAVE }],
}).subarray()

/** `bytes` cut into pieces of the given sizes (the rest in the last one). */
function cut (bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  for (const size of sizes) {
    out.push(bytes.subarray(at, Math.min(bytes.byteLength, at + size)))
    at += size
  }
  out.push(bytes.subarray(at))
  return out
}

test('a message decodes the same however the stream cut it: blocks are views of the chunks, joined only on request', () => {
  const whole = new MessageReader(1 << 22).push(wire)
  assert.equal(whole.length, 1)
  const expected = decodeMessage(whole[0]!)
  assert.equal(expected.blocks.length, 3)
  assert.deepEqual(expected.blocks.map((b) => Buffer.from(b.data.subarray())), blocks.map((b) => b.data))
  assert.deepEqual(expected.wants.map((w) => [w.cid.toString(), w.cancel, w.wantType, w.sendDontHave]), [[blocks[0]!.cid.toString(), false, WANT_BLOCK, true], [blocks[1]!.cid.toString(), true, WANT_HAVE, false]])
  assert.deepEqual(expected.presences.map((p) => [p.cid.toString(), p.type]), [[blocks[1]!.cid.toString(), DONT_HAVE], [blocks[2]!.cid.toString(), HAVE]])
  for (const sizes of [[1], [1, 1, 1, 1, 1], [65_536], [7, 65_536, 3, 100_000], Array.from({ length: 300 }, () => 1 + Math.floor(Math.random() * 4096))]) {
    const reader = new MessageReader(1 << 22)
    const messages = cut(wire, sizes).flatMap((chunk) => reader.push(chunk))
    assert.equal(messages.length, 1, `cut at ${sizes.slice(0, 5).join(',')}`)
    const got = decodeMessage(messages[0]!)
    assert.deepEqual(got.blocks.map((b) => [b.version, b.codec, b.hashCode, b.hashLength, Buffer.from(b.data.subarray())]), expected.blocks.map((b) => [b.version, b.codec, b.hashCode, b.hashLength, Buffer.from(b.data.subarray())]))
    assert.deepEqual(got.wants, expected.wants)
    assert.deepEqual(got.presences, expected.presences)
  }
  // a block inside one chunk is that chunk's memory, not a copy
  assert.equal(expected.blocks[1]!.data.subarray().buffer, wire.buffer)
})

test('a truncated or malformed message is an EBITSWAPMESSAGE error, whatever the chunks', () => {
  const body = new MessageReader(1 << 22).push(wire)[0]!
  for (const end of [1, 10, 1000, 70_050, body.byteLength - 1]) {
    const truncated = body.sublist(0, end)
    assert.throws(() => decodeMessage(truncated), (err: Error & { code?: string }) => err.code === 'EBITSWAPMESSAGE', `cut at ${end}`)
  }
  assert.throws(() => decodeMessage(new Uint8ArrayList(Uint8Array.of(0x1b), Uint8Array.of(0))), (err: Error & { code?: string }) => err.code === 'EBITSWAPMESSAGE')
  assert.throws(() => new MessageReader(1000).push(wire), (err: Error & { code?: string }) => err.code === 'EBITSWAPMESSAGE')
})
