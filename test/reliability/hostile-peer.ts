/**
 * A misbehaving IPFS peer in its own process, built from the real parts (our libp2p, bitswap and
 * CID protocol) with one fault. argv[2]: a JSON file `{ mode, tarballs: [{ integrity, base64 }], slowMs? }`.
 * Prints `{ "address": "/ip4/127.0.0.1/tcp/…/p2p/…" }` once listening (and connected to `dial`, if
 * given), then serves until killed.
 *
 * - `silent`: accepts bitswap and CID-protocol streams and never answers.
 * - `slow`: honest, but every block and every CID answer waits `slowMs` (a trickling peer).
 * - `liar`: answers every CID question with the CID of other bytes, which it serves (and holds
 *   none of the real tarballs).
 * - `flood`: answers nothing; pushes unrequested blocks and oversized bitswap messages at every
 *   peer that connects, as fast as it can; prints `{ flooded: bytes }` every 100 ms.
 * - `vanish`: honest for large tarballs (UnixFS DAGs), but dies (SIGKILL) after its first block.
 * - `bomb`: answers every CID question with the root of a UnixFS file of `bombMiB` MiB made of one
 *   1 MiB block linked over and over (a few blocks claiming a huge tarball).
 * - `trickle`: honest, but sends each wanted block's message at `trickleBps` bytes a second, a
 *   slice every 50 ms (a slow link, or a loaded seeder sharing its upload with many askers).
 *   With `wantedFile` and `sentFile`, it touches the first when a want arrives, waits `slowMs`,
 *   and touches the second once the message is handed to the transport (and 100 ms more).
 * - `endless`: answers CID questions honestly, then for each wanted block starts a 4 MiB message
 *   it never finishes: random bytes at `trickleBps` bytes a second, for ever.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { startBitswap } from '../../src/ipfs/bitswap.ts'
import { decodeMessage, encodeMessage, MessageReader } from '../../src/ipfs/bitswap-message.ts'
import { importTarball, MAX_RAW_BLOCK, rawCidFromIntegrity, rawCidOf } from '../../src/ipfs/cid.ts'
import { CID_PROTOCOL, handleCidProtocol } from '../../src/ipfs/cid-protocol.ts'
import { createNodeLibp2p } from '../../src/ipfs/libp2p.ts'
import { memoryBlockstore } from '../helpers/memory-blockstore.ts'

const BITSWAP = '/ipfs/bitswap/1.2.0'
const config = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as { mode: string, tarballs: Array<{ integrity: string, base64: string }>, slowMs?: number, bombMiB?: number, trickleBps?: number, wantedFile?: string, sentFile?: string, dial?: string }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Varint and length-delimited protobuf fields, enough to write a bitswap Message by hand. */
function varint (n: number): Buffer {
  const out: number[] = []
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Buffer.from(out)
}
const field = (no: number, bytes: Uint8Array): Buffer => Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes])
/** A bitswap 1.2.0 Message carrying `blocks` as payload (raw codec, sha2-512 prefix). */
function blocksMessage (blocks: Uint8Array[]): Buffer {
  const prefix = Buffer.concat([varint(1), varint(0x55), varint(0x13), varint(64)])
  return Buffer.concat(blocks.map((data) => field(3, Buffer.concat([field(1, prefix), field(2, data)]))))
}

const mode = config.mode
const tarballs = config.tarballs.map(({ integrity, base64 }) => ({ integrity, bytes: Buffer.from(base64, 'base64') }))
let served = 0
const blockstore = memoryBlockstore(async () => {
  if (mode === 'slow') await sleep(config.slowMs ?? 5000)
  if (mode === 'vanish' && served++ >= 1) process.kill(process.pid, 'SIGKILL')
})
const answers = new Map<string, CID>()
// a liar (or bomb) holds none of the real tarballs, only what it names for every one of them
for (const { integrity, bytes } of mode === 'liar' || mode === 'bomb' ? [] : tarballs) {
  if (bytes.length <= MAX_RAW_BLOCK) {
    await blockstore.put(rawCidOf(bytes), bytes)
    answers.set(integrity, rawCidFromIntegrity(integrity)!)
  } else {
    answers.set(integrity, await importTarball([bytes], blockstore))
  }
}
const decoy = randomBytes(4096)
await blockstore.put(rawCidOf(decoy), decoy)
const leaf = randomBytes(1024 * 1024)
const bomb = mode === 'bomb' ? await importTarball((function * () { for (let i = 0; i < (config.bombMiB ?? 600); i++) yield leaf })(), blockstore) : undefined

const libp2p = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], isDenied: () => false })
await libp2p.start()
// streams taken and kept open, never read or answered
const held: Stream[] = []
if (mode === 'silent' || mode === 'flood') {
  await libp2p.handle([BITSWAP, CID_PROTOCOL], (stream: Stream) => { held.push(stream) }, { maxInboundStreams: 1024 })
} else if (mode === 'trickle' || mode === 'endless') {
  await libp2p.handle(BITSWAP, (stream: Stream, connection: { remotePeer: any }) => {
    const reader = new MessageReader(4 * 1024 * 1024)
    stream.addEventListener('message', (evt) => {
      for (const bytes of reader.push(evt.data)) {
        for (const want of decodeMessage(bytes).wants) {
          if (want.cancel) continue
          void blockstore.has(want.cid).then(async (has: boolean) => {
            if (!has) return
            let data: Uint8Array | undefined
            for await (const chunk of blockstore.get(want.cid)) data = chunk
            // endless: a length prefix of 4 MiB - 1 (the most bitswap takes), then noise for ever
            const message = mode === 'trickle' ? encodeMessage({ wants: [], blocks: [{ cid: want.cid, data: data! }], presences: [] }).subarray() : Buffer.from([0xff, 0xff, 0xff, 0x01])
            // the stream is open before the asker is told: opening one takes both sides' turns
            const out = await libp2p.dialProtocol(connection.remotePeer, BITSWAP)
            if (config.wantedFile !== undefined) {
              await writeFile(config.wantedFile, '')
              await sleep(config.slowMs ?? 0)
            }
            let sent = 0
            let last = Date.now()
            for (;;) {
              await sleep(50)
              // what the elapsed time owes, so a late timer (a loaded machine) does not slow the rate
              const owed = Math.max(1, Math.round((Date.now() - last) * (config.trickleBps ?? 1024) / 1000))
              last = Date.now()
              const slice = mode === 'trickle' ? message.subarray(sent, sent + owed) : sent === 0 ? message : randomBytes(owed)
              if (slice.byteLength === 0) break
              if (!out.send(slice)) await out.onDrain()
              sent += slice.byteLength
            }
            if (config.sentFile !== undefined) {
              await sleep(100)
              await writeFile(config.sentFile, '')
            }
          }).catch(() => {})
        }
      }
    })
  }, { maxInboundStreams: 1024 })
  await handleCidProtocol(libp2p, async (integrity) => answers.get(integrity), 30_000, () => {})
} else {
  await startBitswap(libp2p, blockstore)
  await handleCidProtocol(libp2p, async (integrity) => {
    if (mode === 'slow') await sleep(config.slowMs ?? 5000)
    if (mode === 'liar') return rawCidOf(decoy)
    if (mode === 'bomb') return bomb
    return answers.get(integrity)
  }, 30_000, () => {})
}
let flooded = 0
if (mode === 'flood') {
  setInterval(() => process.stdout.write(JSON.stringify({ flooded }) + '\n'), 100).unref()
  libp2p.addEventListener('peer:connect', (evt) => {
    void (async () => {
      for (;;) {
        try {
          // an oversized message (over bitswap's 4 MiB limit) on a stream of its own, as a receiver
          // may reset the stream at its length prefix; then floods of unrequested blocks
          const oversized = blocksMessage([randomBytes(6 * 1024 * 1024)])
          void libp2p.dialProtocol(evt.detail, BITSWAP)
            .then(async (stream) => { await lpStream(stream, { maxDataLength: 64 * 1024 * 1024 }).write(oversized) })
            .then(() => { flooded += oversized.length }, () => {})
          const stream = await libp2p.dialProtocol(evt.detail, BITSWAP)
          const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 })
          for (let i = 0; i < 1000; i++) {
            const message = blocksMessage(Array.from({ length: 32 }, () => randomBytes(64 * 1024)))
            await lp.write(message)
            flooded += message.length
          }
        } catch {
          await sleep(50)
        }
      }
    })()
  })
}
// `dial`: the peer connects to the asker itself, a few times if its handshake runs past libp2p's bound (a loaded machine)
for (let attempt = 1; config.dial !== undefined; attempt++) {
  try {
    await libp2p.dial(multiaddr(config.dial))
    break
  } catch (err) {
    if (attempt === 5) throw err
  }
}
process.stdout.write(JSON.stringify({ address: libp2p.getMultiaddrs().map(String).find((a) => a.startsWith('/ip4/127.0.0.1/')) }) + '\n')
process.once('SIGTERM', () => { void Promise.resolve(libp2p.stop()).then(() => process.exit(0)) })
