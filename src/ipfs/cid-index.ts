/**
 * The local integrity → root CID index for tarballs that are UnixFS DAGs (and sha1-only tarballs),
 * one small file per digest under `${cacheDir}/_ipfs-npm/cids/`, written atomically so several
 * processes can share it. Only verified mappings are written (the caller's job).
 */
import { statSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type ssri from 'ssri'
import { hashesOf } from '../integrity.ts'

export interface CidIndex {
  /** The CID recorded for any hash of `integrity` (strongest first), or undefined. */
  get(integrity: string): Promise<CID | undefined>
  /** Records `cid` under every hash of `integrity`. */
  set(integrity: string, cid: CID): Promise<void>
  /** Every recorded mapping, as single-hash integrity and CID. */
  entries(): AsyncIterable<[string, CID]>
}

/** Creates the index stored in `dir`. */
export function createCidIndex (dir: string): CidIndex {
  const fileOf = (hash: ssri.HashLike): string => join(dir, `${hash.algorithm}-${Buffer.from(hash.digest, 'base64').toString('hex')}`)
  return {
    async get (integrity) {
      for (const hash of hashesOf(integrity)) {
        const file = fileOf(hash)
        // most lookups miss (every small tarball): a stat that returns undefined costs far less
        // than a failed open and its exception, once per tarball of an install
        if (statSync(file, { throwIfNoEntry: false }) === undefined) continue
        try {
          return CID.parse((await readFile(file, 'utf8')).trim())
        } catch {
          // absent or unreadable: try the next hash
        }
      }
      return undefined
    },
    async set (integrity, cid) {
      await mkdir(dir, { recursive: true })
      for (const hash of hashesOf(integrity)) {
        const file = fileOf(hash)
        const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`
        await writeFile(tmp, cid.toString())
        await rename(tmp, file)
      }
    },
    async * entries () {
      const files = await readdir(dir).catch(() => [])
      for (const file of files) {
        const m = /^([a-z0-9]+)-([0-9a-f]+)$/.exec(file)
        if (m === null) continue
        try {
          yield [`${m[1]}-${Buffer.from(m[2], 'hex').toString('base64')}`, CID.parse((await readFile(join(dir, file), 'utf8')).trim())]
        } catch {
          // unreadable, or removed since the listing: not an entry
        }
      }
    },
  }
}
