import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import test from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Logger } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseWithoutFrameCopies } from '../../src/ipfs/noise-frames.ts'

const log: Logger = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log })
const encrypter = async (make: typeof noise) => make()({ privateKey: await generateKeyPair('Ed25519'), logger: { forComponent: () => log } } as any)

test('our Noise and stock Noise exchange bytes both ways, and ours decrypts without the frame copy', async () => {
  for (const [initiator, responder] of [[noiseWithoutFrameCopies, noise], [noise, noiseWithoutFrameCopies]] as const) {
    const [outbound, inbound] = multiaddrConnectionPair()
    const a = await encrypter(initiator as typeof noise)
    const b = await encrypter(responder as typeof noise)
    const [out, inn] = await Promise.all([
      a.secureOutbound(outbound, { skipStreamMuxerNegotiation: true }),
      b.secureInbound(inbound, { skipStreamMuxerNegotiation: true }),
    ])
    const ours = initiator === noiseWithoutFrameCopies ? out : inn
    const stock = initiator === noiseWithoutFrameCopies ? inn : out
    // the upstream method is on the prototype; ours on the instance (an upgrade that renames it shows here)
    assert.ok(Object.hasOwn(ours.connection, 'decrypt'))
    assert.ok(!Object.hasOwn(stock.connection, 'decrypt'))
    // several full frames and a short one (over TCP a frame straddles reads: test/interop, transfer)
    const payload = randomBytes(300_000)
    for (const [from, to] of [[out, inn], [inn, out]]) {
      const received = new Uint8ArrayList()
      const done = new Promise<void>((resolve) => {
        to.connection.addEventListener('message', (evt) => {
          received.append(evt.data)
          if (received.byteLength >= payload.byteLength) resolve()
        })
      })
      from.connection.send(payload)
      await done
      assert.ok(Buffer.from(received.subarray()).equals(payload))
    }
  }
})

test('an outbound connection is reported secured once its frames are decrypted into fresh memory; an inbound one is not', async () => {
  const secured: unknown[] = []
  const ours = () => noiseWithoutFrameCopies({ onSecured: (connection) => secured.push(connection) })
  const [outbound, inbound] = multiaddrConnectionPair()
  const a = await encrypter(ours as typeof noise)
  const b = await encrypter(ours as typeof noise)
  await Promise.all([
    a.secureOutbound(outbound, { skipStreamMuxerNegotiation: true }),
    b.secureInbound(inbound, { skipStreamMuxerNegotiation: true }),
  ])
  assert.deepEqual(secured, [outbound])
})
