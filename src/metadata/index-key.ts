/**
 * An index's identity: the Ed25519 key that signs its IPNS records, and the name (`k51…`, the
 * key's CIDv1 in base36, as Kubo and Helia print it) that clients trust.
 *
 * A key lives in a file of its own (libp2p's protobuf encoding, mode 0600): by default
 * `<cache>/_ipfs-npm/index-keys/default.key`, created on first use, or a file the operator names.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { multihashToIPNSRoutingKey } from 'ipns'
import { base36 } from 'multiformats/bases/base36'
import { usageError } from '../errors.ts'

/** A bad index name or key file; one line, fit for the user. */
export const indexNameError = (message: string): Error => usageError(message)

/** An index name parsed: the printable name and the IPNS routing key (`/ipns/` + multihash). */
export interface IndexName {
  /** `k51…`: the name as clients write it (`--index k51…`). */
  name: string
  routingKey: Uint8Array
}

/** The default key file of a cache dir. */
export function defaultIndexKeyFile (cacheDir: string): string {
  return join(cacheDir, '_ipfs-npm', 'index-keys', 'default.key')
}

/**
 * Reads the key in `file`, or creates one there when the file does not exist (`create`; the
 * default). A file that exists but holds no key is an error, never overwritten.
 */
export async function loadIndexKey (file: string, options: { create?: boolean } = {}): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || options.create === false) {
      throw indexNameError(`cannot read the index key ${file}: ${(err as Error).message}`)
    }
    const key = await generateKeyPair('Ed25519')
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    // wx: two processes creating the default key at once must not end up with different names
    await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
    })
    return loadIndexKey(file, { create: false })
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw indexNameError(`${file} is not an index key: ${(err as Error).message}`)
  }
}

/** The name of the index `key` signs. */
export function indexNameOf (key: PrivateKey): IndexName {
  const peerId = peerIdFromPrivateKey(key)
  return { name: peerId.toCID().toString(base36), routingKey: multihashToIPNSRoutingKey(peerId.toMultihash()) }
}

/** Parses `k51…`, `/ipns/k51…`, `ipns://k51…` or a base58 `12D3Koo…` key name. */
export function parseIndexName (text: string): IndexName {
  const bare = text.trim().replace(/^(\/ipns\/|ipns:\/\/)/, '').replace(/\/$/, '')
  try {
    const peerId = bare.startsWith('k') ? peerIdFromString(bare, base36) : peerIdFromString(bare)
    if (peerId.type === 'url') throw new Error('not a key')
    return { name: peerId.toCID().toString(base36), routingKey: multihashToIPNSRoutingKey(peerId.toMultihash() as any) }
  } catch {
    throw indexNameError(`invalid index name "${text}": expected an IPNS key name such as k51…`)
  }
}
