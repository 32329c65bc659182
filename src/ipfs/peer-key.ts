/**
 * The node's persisted identity under `${cacheDir}/_ipfs-npm/`. Two processes on one cache must
 * not share a peer id at the same time (peers could not tell them apart, nor could they connect to
 * each other), so the first one holds a pid lock on the key and any other gets an ephemeral key.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { processAlive } from '../process-alive.ts'

export interface PeerKey {
  privateKey: PrivateKey
  /** Whether this is the cache's persisted key (false: ephemeral, another process holds it). */
  persisted: boolean
  /** Gives the persisted key back (removes the lock); a no-op for an ephemeral key. */
  release(): Promise<void>
}

/** Takes the pid lock in `dir`, replacing a lock whose process is gone. */
async function lock (file: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number(await readFile(file, 'utf8').catch(() => ''))
      if (holder > 0 && processAlive(holder)) return false
      await rm(file, { force: true })
    }
  }
  return false
}

async function loadOrCreate (file: string): Promise<PrivateKey> {
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch {
      // a corrupt key file is our own state: replace it
    }
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(tmp, file)
  return key
}

/** Loads (or creates) the cache's key if no live process holds it, else makes an ephemeral one. */
export async function acquirePeerKey (dir: string): Promise<PeerKey> {
  await mkdir(dir, { recursive: true })
  const lockFile = join(dir, 'peer-key.lock')
  if (!await lock(lockFile)) {
    return { privateKey: await generateKeyPair('Ed25519'), persisted: false, release: async () => {} }
  }
  try {
    const privateKey = await loadOrCreate(join(dir, 'peer-key'))
    return { privateKey, persisted: true, release: async () => { await rm(lockFile, { force: true }) } }
  } catch (err) {
    await rm(lockFile, { force: true })
    throw err
  }
}
