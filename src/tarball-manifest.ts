/**
 * The package.json inside a tarball's bytes, read as npm reads it (pacote), after checking the
 * bytes are a gzipped tar at all — so bytes from anywhere (a CID, a peer) that are not a package
 * get one clear error instead of a tar warning.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGunzip } from 'node:zlib'
import { npmError } from './errors.ts'

const require = createRequire(import.meta.url)

export type TarballManifest = Record<string, unknown> & { name: string, version: string }

interface Pacote { manifest(spec: string, opts: Record<string, unknown>): Promise<TarballManifest> }

/** The first tar header inside gzip `bytes` (512 bytes), or fewer bytes when they are not gzip. */
async function firstTarHeader (bytes: Uint8Array): Promise<Buffer> {
  return new Promise((resolve) => {
    const gunzip = createGunzip()
    const chunks: Buffer[] = []
    let size = 0
    const done = (): void => {
      gunzip.destroy()
      resolve(Buffer.concat(chunks).subarray(0, 512))
    }
    gunzip.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= 512) done()
    })
    gunzip.on('error', done)
    gunzip.on('end', done)
    gunzip.end(bytes)
  })
}

/** The package.json inside `bytes`, or an error saying these bytes are no package tarball. */
export async function readTarballManifest (what: string, bytes: Uint8Array, flat: Record<string, unknown>): Promise<TarballManifest> {
  const notTarball = (why: string): Error => npmError('EBADTARBALL', `${what} is not a package tarball: ${why}`)
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw notTarball('not gzip data')
  // a tar header says `ustar` at 257 (npm's tarballs are ustar or pax)
  const header = await firstTarHeader(bytes)
  if (header.length < 512 || header.subarray(257, 262).toString('latin1') !== 'ustar') throw notTarball('not a tar archive')
  const dir = await mkdtemp(join(tmpdir(), 'ipfs-npm-cid-'))
  try {
    const file = join(dir, 'package.tgz')
    await writeFile(file, bytes)
    const pacote = require('pacote') as Pacote
    const manifest = await pacote.manifest(`file:${file}`, { ...flat, cache: join(dir, 'cache') }).catch((err: Error) => {
      throw notTarball(err.message.split('\n')[0])
    })
    if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') throw notTarball('its package.json has no name and version')
    return manifest
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * A version as a registry stores it: package.json's fields (npm's `_` fields dropped; JSON only,
 * as dag-json holds no undefined), npm's `_id`, and its `dist`.
 */
export function registryVersion (manifest: TarballManifest, dist: { integrity: string, shasum: string, tarball: string, cid: string }): TarballManifest & { _id: string, dist: typeof dist } {
  const fields = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>
  for (const key of Object.keys(fields)) if (key.startsWith('_')) delete fields[key]
  return { ...fields, name: manifest.name, version: manifest.version, _id: `${manifest.name}@${manifest.version}`, dist }
}
