import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import test from 'node:test'
import { createSocketReads } from '../../src/ipfs/socket-reads.ts'

/** A loopback server that sends `payload` to whoever connects, once the client asks (a byte). */
async function sender (payload: Uint8Array): Promise<{ port: number, close: () => Promise<void> }> {
  const server = createServer((socket) => {
    socket.once('data', () => socket.end(payload))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, close: async () => new Promise((resolve) => server.close(() => resolve())) }
}

/** Reads everything (copied out of each chunk as it comes, as Noise's decrypt does); `onChunk` sees each chunk first. */
async function receive (socket: Socket, onChunk: (chunk: Buffer, total: number) => void): Promise<Buffer> {
  const parts: Buffer[] = []
  let total = 0
  socket.on('data', (chunk: Buffer) => {
    onChunk(chunk, total)
    total += chunk.byteLength
    parts.push(Buffer.from(chunk))
  })
  await new Promise((resolve, reject) => socket.once('end', resolve).once('error', reject))
  return Buffer.concat(parts)
}

test('a dialled socket hands on reads of their own length until secured, then reads into one reused buffer, and every byte arrives as sent, across a pause', async () => {
  const payload = randomBytes(6 * 1024 * 1024)
  const server = await sender(payload)
  try {
    const reads = createSocketReads()
    const socket = connect({ port: server.port, host: '127.0.0.1', ...reads.dialOptions } as any)
    await new Promise((resolve) => socket.once('connect', resolve))
    const before = new Set<ArrayBufferLike>()
    const after = new Set<ArrayBufferLike>()
    let paused = false
    const received = receive(socket, (chunk, total) => {
      // the first megabyte as a handshake would read it; then the connection is secured
      if (total < 1024 * 1024) {
        before.add(chunk.buffer)
        assert.equal(chunk.buffer.byteLength, chunk.byteLength, 'a copy of its own length')
      } else {
        after.add(chunk.buffer)
      }
      if (total + chunk.byteLength >= 1024 * 1024 && total < 1024 * 1024) reads.secured({ socket })
      // a reader that stops for a while: nothing read meanwhile overwrites what waits
      if (!paused && total > 3 * 1024 * 1024) {
        paused = true
        socket.pause()
        setTimeout(() => socket.resume(), 50)
      }
    })
    socket.write('go')
    const bytes = await received
    assert.ok(bytes.equals(payload))
    assert.ok(before.size > 1, 'each read before securing has memory of its own')
    // the read under way when it was secured still has its own; then one buffer for all
    assert.ok(after.size <= 2, `reads after securing went into ${after.size} buffers`)
  } finally {
    await server.close()
  }
})

test('anything but a dialled socket of ours is left alone', () => {
  const reads = createSocketReads()
  for (const connection of [undefined, null, {}, { socket: 1 }, { socket: {} }]) reads.secured(connection)
})
