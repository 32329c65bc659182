/**
 * The one gate every provider record passes (src/ipfs/provide.ts): a CID our bitswap would not
 * serve is never announced, one announced is not announced again, and nothing is asked of the
 * DHT while it has no one to tell.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createProvideTarball } from '../../src/ipfs/provide.ts'

const cidOf = async (text: string): Promise<CID> => CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
const settle = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 10)) }

test('only servable CIDs are provided, each once, and only when a DHT can take them', async () => {
  const served = await cidOf('served')
  const unserved = await cidOf('too big to serve raw')
  const provided: string[] = []
  let dht = false
  const provideTarball = createProvideTarball({
    canProvide: () => dht,
    servable: async (cid) => cid.equals(served),
    provide: async (cid) => { provided.push(cid.toString()); return true },
    log: () => {},
  })
  provideTarball('sha512-a', served)
  await settle()
  assert.deepEqual(provided, [], 'no DHT peers: nothing asked')
  dht = true
  provideTarball('sha512-a', served)
  provideTarball('sha512-b', unserved)
  await settle()
  provideTarball('sha512-a', served)
  await settle()
  assert.deepEqual(provided, [served.toString()])
})
