import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import test from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, Stream } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { YamuxStream } from '@libp2p/yamux/stream'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { createNodeLibp2p } from '../../src/ipfs/libp2p.ts'
import { withFewerWindowUpdates } from '../../src/ipfs/yamux-windows.ts'

const PROTOCOL = '/ipfs-npm-test/window/1.0.0'
/** yamux's frame type of a window update (its FrameType.WindowUpdate). */
const WINDOW_UPDATE = 1

const ours = async (): Promise<Libp2p<any>> => {
  const node = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], isDenied: () => false, lanDhtServer: false })
  await node.start()
  return node
}
const stock = async (): Promise<Libp2p> => createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })

/**
 * `to` receives `bytes` sent by `from` on a stream of its own, in 64 KiB sends; `paced`: each sent
 * once the one before has arrived (a data frame each). Resolves with what arrived and the window
 * updates the receiving stream sent meanwhile.
 */
async function transfer (from: Libp2p<any>, to: Libp2p<any>, bytes: Uint8Array, paced = false): Promise<{ received: Uint8Array, updates: number, yamux: boolean }> {
  let done!: (result: { received: Uint8Array, updates: number, yamux: boolean }) => void
  const result = new Promise<{ received: Uint8Array, updates: number, yamux: boolean }>((resolve) => { done = resolve })
  let arrived = 0
  let onArrival = (): void => {}
  await to.handle(PROTOCOL, (stream: Stream) => {
    let updates = 0
    const s = stream as unknown as { sendFrame: (header: { type: number }, data?: unknown) => boolean }
    const sendFrame = s.sendFrame
    s.sendFrame = (header, data) => {
      if (header.type === WINDOW_UPDATE) updates++
      return sendFrame(header, data)
    }
    const received = new Uint8ArrayList()
    stream.addEventListener('message', (evt) => {
      received.append(evt.data)
      arrived = received.byteLength
      onArrival()
      if (received.byteLength >= bytes.byteLength) done({ received: received.subarray(), updates, yamux: stream instanceof YamuxStream })
    })
  })
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, PROTOCOL)
  for (let at = 0; at < bytes.byteLength; at += 64 * 1024) {
    const end = Math.min(bytes.byteLength, at + 64 * 1024)
    const there = paced ? new Promise<void>((resolve) => { onArrival = () => { if (arrived >= end) resolve() } }) : undefined
    if (!stream.send(bytes.subarray(at, end))) await stream.onDrain()
    await there
  }
  const out = await result
  await stream.close()
  await to.unhandle(PROTOCOL)
  return out
}

test('a stream of ours sends a window update once half its window is used, not after every data frame', async (t) => {
  const a = await ours()
  const b = await ours()
  t.after(async () => { await a.stop(); await b.stop() })
  // 1 MiB in 16 data frames of 64 KiB, each sent once the last arrived: stock yamux answers each
  // with an update; ours has used a quarter of its 4 MiB window by the end, and sends none
  const small = randomBytes(1024 * 1024)
  const paced = await transfer(a, b, small, true)
  assert.ok(paced.yamux)
  assert.ok(Buffer.from(paced.received).equals(small))
  assert.ok(paced.updates <= 1, `${paced.updates} window updates`)
  // 16 MiB as fast as it goes: an update per 2 MiB at most
  const bytes = randomBytes(16 * 1024 * 1024)
  const fast = await transfer(a, b, bytes)
  assert.ok(Buffer.from(fast.received).equals(bytes))
  assert.ok(fast.updates <= 9, `${fast.updates} window updates`)
})

test('our yamux and stock @libp2p/yamux exchange large transfers both ways', async (t) => {
  const a = await ours()
  const c = await stock()
  t.after(async () => { await a.stop(); await c.stop() })
  const bytes = randomBytes(12 * 1024 * 1024)
  assert.ok(Buffer.from((await transfer(a, c, bytes)).received).equals(bytes))
  assert.ok(Buffer.from((await transfer(c, a, bytes)).received).equals(bytes))
})

test('a stream without @libp2p/yamux 8 shape is left as it is', () => {
  const notYamux = { state: 3, recvWindow: 262144, recvWindowCapacity: 0, maxStreamWindowSize: 1 << 24, sendWindowUpdate: () => {} }
  const before = notYamux.sendWindowUpdate
  assert.equal(withFewerWindowUpdates(notYamux), false)
  assert.equal(notYamux.sendWindowUpdate, before)
  assert.equal(notYamux.recvWindow, 262144)
})
