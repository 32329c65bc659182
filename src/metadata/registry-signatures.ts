/**
 * The registry's own signatures on what it publishes: ECDSA P-256 over
 * `${name}@${version}:${integrity}`, in each version's `dist.signatures` (`[{ keyid, sig }]`),
 * checked against the keys the registry lists at `/-/npm/v1/keys` — the check `npm audit
 * signatures` makes. Keys are fetched while the registry is reachable and kept under
 * `<cache>/_ipfs-npm/registry-keys/`, so a packument a peer hands over with the registry gone is
 * checked against keys this machine got from the registry itself, never from a peer.
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Manifest, Packument } from './index-format.ts'

/** A key as `/-/npm/v1/keys` lists it. */
export interface RegistryKey {
  keyid: string
  /** Base64 SubjectPublicKeyInfo (DER). */
  key: string
  keytype?: string
  scheme?: string
  /** ISO time after which the key signs nothing new; null while current. */
  expires: string | null
}

export interface RegistryKeys {
  /** The keys kept for `registry` (URL with a trailing slash); undefined when none were ever fetched. */
  get(registry: string): Promise<RegistryKey[] | undefined>
  /** Whether the keys kept for `registry` are missing or were fetched more than a day ago (keys rotate). */
  stale(registry: string): Promise<boolean>
  /** Keeps what `/-/npm/v1/keys` answered for `registry`. */
  keep(registry: string, keys: RegistryKey[]): Promise<void>
}

/** How long kept keys are used before they are fetched again (when the registry is reachable). */
const KEYS_MAX_AGE = 24 * 3600_000

export function createRegistryKeys (stateDir: string): RegistryKeys {
  const dir = join(stateDir, 'registry-keys')
  // by digest of the URL: a file name is no place for a registry host or its path
  const file = (registry: string): string => join(dir, `${createHash('sha256').update(registry).digest('hex').slice(0, 32)}.json`)
  const read = async (registry: string): Promise<{ keys: RegistryKey[], fetched: number } | undefined> => {
    try {
      const kept = JSON.parse(await readFile(file(registry), 'utf8')) as { registry: string, keys: RegistryKey[], fetched?: number }
      return kept.registry === registry && Array.isArray(kept.keys) ? { keys: kept.keys, fetched: kept.fetched ?? 0 } : undefined
    } catch {
      return undefined
    }
  }
  return {
    async get (registry) {
      return (await read(registry))?.keys
    },
    async stale (registry) {
      const kept = await read(registry)
      return kept === undefined || Date.now() - kept.fetched > KEYS_MAX_AGE
    },
    async keep (registry, keys) {
      await mkdir(dir, { recursive: true })
      const temp = `${file(registry)}.${process.pid}.tmp`
      await writeFile(temp, JSON.stringify({ registry, keys, fetched: Date.now() }))
      await rename(temp, file(registry))
    },
  }
}

/** Parses a `/-/npm/v1/keys` body; throws on anything else. */
export function parseRegistryKeys (body: unknown): RegistryKey[] {
  const keys = (body as { keys?: unknown })?.keys
  if (!Array.isArray(keys) || !keys.every((k) => typeof k?.keyid === 'string' && typeof k?.key === 'string')) {
    throw new Error('not a registry keys document')
  }
  return keys.map((k) => ({ keyid: k.keyid, key: k.key, keytype: k.keytype, scheme: k.scheme, expires: k.expires ?? null }))
}

/** Why a version was dropped, for the log. */
export type DropReason = 'unsigned' | 'bad signature' | 'unknown key' | 'expired key'

export interface Verified {
  /** The packument with only the versions whose signature checks out (dist-tags of dropped ones removed). */
  packument: Packument
  dropped: Array<{ version: string, reason: DropReason }>
}

function verdict (manifest: Manifest, keys: Map<string, { key: KeyObject, expires: string | null }>, published: string | undefined): DropReason | undefined {
  const signatures = manifest.dist?.signatures
  const integrity = manifest.dist?.integrity
  if (!Array.isArray(signatures) || signatures.length === 0 || typeof integrity !== 'string') return 'unsigned'
  let reason: DropReason = 'unknown key'
  for (const signature of signatures as Array<{ keyid?: unknown, sig?: unknown }>) {
    const known = typeof signature?.keyid === 'string' ? keys.get(signature.keyid) : undefined
    if (known === undefined || typeof signature.sig !== 'string') continue
    // npm's rule: an expired key still vouches for what it signed before it expired
    if (known.expires !== null && (published === undefined || Date.parse(published) >= Date.parse(known.expires))) {
      reason = 'expired key'
      continue
    }
    const message = Buffer.from(`${manifest.name}@${manifest.version}:${integrity}`)
    if (verifySignature('sha256', message, known.key, Buffer.from(signature.sig, 'base64'))) return undefined
    reason = 'bad signature'
  }
  return reason
}

/** Keeps the versions of `packument` the registry signed with one of `keys`. */
export function verifyPackument (packument: Packument, keys: RegistryKey[]): Verified {
  const byId = new Map(keys.map((k) => [k.keyid, { key: createPublicKey({ key: Buffer.from(k.key, 'base64'), format: 'der', type: 'spki' }), expires: k.expires }]))
  const versions: Record<string, Manifest> = {}
  const dropped: Verified['dropped'] = []
  for (const [version, manifest] of Object.entries(packument.versions ?? {})) {
    // the signature covers name, version and integrity: a manifest claiming another name or
    // version than its key is as unsigned as one without signatures
    const reason = manifest?.name !== packument.name || manifest.version !== version ? 'unsigned' : verdict(manifest, byId, packument.time?.[version])
    if (reason === undefined) versions[version] = manifest
    else dropped.push({ version, reason })
  }
  const tags = Object.fromEntries(Object.entries(packument['dist-tags'] ?? {}).filter(([, version]) => Object.hasOwn(versions, version)))
  return { packument: { ...packument, 'dist-tags': tags, versions }, dropped }
}
