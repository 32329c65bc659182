/**
 * An install that reads no signed index runs no gossipsub or fetch (the IPNS record transport):
 * each would cost every peer connection a stream, subscriptions and heartbeats for nothing. The
 * peer it names sees, through identify, a node without those protocols; the same peer, and a
 * node started for indexes, speak them. (Index installs and serve's announcements: test/metadata.)
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { IdentifyResult, Stream } from '@libp2p/interface'
import { BITSWAP_120 } from '../../src/ipfs/bitswap-outbox.ts'
import { CID_PROTOCOL } from '../../src/ipfs/cid-protocol.ts'
import { createNodeLibp2p } from '../../src/ipfs/libp2p.ts'
import { ipfsNpmBin } from '../helpers/conformance.ts'
import { startRegistry } from '../helpers/registry.ts'
import { runCommand } from '../helpers/run-command.ts'
import { removeDir, tempDir } from '../helpers/temp-dir.ts'

const RECORD_PROTOCOLS = /^\/(meshsub|floodsub|libp2p\/fetch)\//

test('a plain install\'s node does not speak gossipsub or fetch to the peer it names; an index node does', async (t) => {
  const registry = await startRegistry()
  t.after(async () => registry.stop())
  const work = await tempDir('index-records')
  t.after(async () => removeDir(work))
  const userconfig = join(work, 'npmrc')
  await writeFile(userconfig, [`registry=${registry.url}`, 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  const project = join(work, 'app')
  await mkdir(project)

  // the named peer: our libp2p with index records (as `serve` runs it); it learns the install's
  // protocols by identify, and holds the install's first ask (a CID question or a want) until it has
  const peer = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], isDenied: () => false })
  await peer.start()
  t.after(async () => peer.stop())
  assert.ok(peer.getProtocols().some((protocol) => RECORD_PROTOCOLS.test(protocol)), 'a node with index records speaks gossipsub and fetch')
  let identified!: (result: IdentifyResult) => void
  const identify = new Promise<IdentifyResult>((resolve) => { identified = resolve })
  peer.addEventListener('peer:identify', (evt) => identified(evt.detail))
  const hold = async (stream: Stream): Promise<void> => {
    await identify
    stream.abort(new Error('nothing here'))
  }
  await peer.handle([CID_PROTOCOL, BITSWAP_120], hold)

  const run = await runCommand(process.execPath, [ipfsNpmBin, 'install', 'alpha', '--userconfig', userconfig, '--cache', join(work, 'cache'), '--no-mdns', '--peer', peer.getMultiaddrs()[0]!.toString()], { cwd: project })
  assert.equal(run.code, 0, run.stderr)
  const { protocols } = await identify
  assert.ok(protocols.includes(BITSWAP_120), `identify got through: ${protocols.join(' ')}`)
  assert.deepEqual(protocols.filter((protocol) => RECORD_PROTOCOLS.test(protocol)), [])
})

test('the libp2p node runs gossipsub and fetch only with index records', async (t) => {
  const without = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], isDenied: () => false, indexRecords: false })
  await without.start()
  t.after(async () => without.stop())
  assert.equal(without.services.pubsub, undefined)
  assert.equal(without.services.fetch, undefined)
  assert.deepEqual(without.getProtocols().filter((protocol) => RECORD_PROTOCOLS.test(protocol)), [])
})
