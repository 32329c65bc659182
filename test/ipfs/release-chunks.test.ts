import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import test from 'node:test'
import { decodeMessage, encodeMessage, MessageReader, releaseCopiedChunks } from '../../src/ipfs/bitswap-message.ts'
import { rawCidOf } from '../../src/ipfs/cid.ts'

/** `bytes` as the stream delivers them: each piece in a buffer of its own, as Node's decipher returns a Noise frame. */
function frames (bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < bytes.byteLength; at += size) out.push(Uint8Array.from(bytes.subarray(at, at + size)))
  return out
}

test('a block spread over chunks frees the chunks that held only its bytes, once copied; nothing else is freed', () => {
  const big = randomBytes(300_000)
  const small = randomBytes(1_000)
  const next = randomBytes(2_000)
  const first = encodeMessage({ wants: [], blocks: [{ cid: rawCidOf(small), data: small }, { cid: rawCidOf(big), data: big }], presences: [] }).subarray()
  // the next message starts in the frame where the big block ends
  const wire = Buffer.concat([first, encodeMessage({ wants: [], blocks: [{ cid: rawCidOf(next), data: next }], presences: [] }).subarray()])
  const chunks = frames(wire, 65_519)
  const reader = new MessageReader(1 << 22)
  const [message, following] = chunks.flatMap((chunk) => reader.push(chunk))
  const { blocks } = decodeMessage(message!)
  // what receivedBlocks hands on: a copy of a block in several chunks, the chunk itself for one in a single chunk
  const copies = blocks.map((b) => b.data.subarray())
  assert.equal(copies[0]!.buffer, chunks[0]!.buffer)

  const freed = releaseCopiedChunks(blocks)
  // the first frame (framing, the small block, the big one's start) and the last (its end and
  // the next message) stay; the three between held nothing but the big block's bytes
  assert.equal(freed, 3 * 65_519)
  assert.deepEqual(chunks.map((c) => c.buffer.byteLength === 0), [false, true, true, true, false])
  assert.ok(Buffer.from(copies[0]!).equals(small))
  assert.ok(Buffer.from(copies[1]!).equals(big))
  assert.ok(Buffer.from(decodeMessage(following!).blocks[0]!.data.subarray()).equals(next))
  // twice is harmless: a detached buffer is skipped
  assert.equal(releaseCopiedChunks(blocks), 0)
})

test('a block in one chunk is never freed, even when that chunk is its whole buffer: it may be handed on as it is', () => {
  const data = randomBytes(5_000)
  const wire = encodeMessage({ wants: [], blocks: [{ cid: rawCidOf(data), data }], presences: [] }).subarray()
  const reader = new MessageReader(1 << 22)
  // the block's bytes alone in one buffer, the framing in buffers of their own
  const start = wire.byteLength - data.byteLength
  const pieces = [Uint8Array.from(wire.subarray(0, start)), Uint8Array.from(wire.subarray(start))]
  const [message] = pieces.flatMap((piece) => reader.push(piece))
  const { blocks } = decodeMessage(message!)
  assert.equal(releaseCopiedChunks(blocks), 0)
  assert.ok(Buffer.from(blocks[0]!.data.subarray()).equals(data))
})
