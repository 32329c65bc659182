/**
 * `ipfs-npm publish --index`: a team's registry with no server. The package is packed as npm packs
 * it (src/pack.ts), its tarball put into npm's cache (so this machine serves it at once, by raw CID
 * or UnixFS root), and its version added to a signed index (src/metadata/signed-index.ts) with
 * `dist.integrity`, `dist.shasum`, `dist.cid` and the registry's URL as `dist.tarball` — so a
 * lockfile made from the index is one plain npm reads, and `ipfs-npm ci` anywhere finds the bytes
 * by integrity. The index's record is re-signed and announced; a running `ipfs-npm serve` on this
 * cache keeps announcing it after this process ends (src/index-announcer.ts).
 *
 * Only the holder of an index's key can move it: publishing to an index whose key this machine
 * does not hold is refused here, and a record signed by another key is refused by every client.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { NpmConfig } from './config.ts'
import { npmError, usageError } from './errors.ts'
import type { IpfsNode } from './ipfs/index.ts'
import type { NpmLocation } from './npm-location.ts'
import { OWN_INDEX } from './options.ts'
import { packForPublish } from './pack.ts'
import { registryVersion } from './tarball-manifest.ts'
import { registryTarballUrl } from './tarball-url.ts'
import type { TarballCache } from './types.ts'

const require = createRequire(import.meta.url)

interface Semver {
  validRange(range: string): string | null
  parse(version: string): { prerelease: readonly unknown[] } | null
  gt(a: string, b: string): boolean
}

export interface PublishToIndexInit {
  /** The package folder (npm's localPrefix, or the folder `publish <dir>` names). */
  dir: string
  config: NpmConfig
  npm: NpmLocation
  cache: TarballCache
  /** The index to publish to: OWN_INDEX (this cache's own), or a name (`k51…`, `/ipns/k51…`) whose key must be this cache's. */
  target: string
  /** Registry URL that serves `name` (the tarball URL written into `dist.tarball`). */
  registryFor(name: string): string
  /** Starts the IPFS node (not at all for `--dry-run`). */
  node(): Promise<IpfsNode | undefined>
  /** Whether a swarm key keeps the index inside a private network (what `--access restricted` needs). */
  privateNetwork: boolean
  output(line: string): void
  notice(message: string): void
}

/** Publishes the package in `dir` to the index; prints `+ name@version`, `cid:` and `index:`. */
export async function publishToIndex (init: PublishToIndexInit): Promise<void> {
  const { config } = init
  const semver = require('semver') as Semver
  const dryRun = config.get('dry-run') === true
  const tag = config.get('tag') as string
  if (semver.validRange(tag) !== null) throw npmError('EUSAGE', `Tag name must not be a valid SemVer range: ${tag.trim()}`)
  const access = config.get('access') as string | null
  if (access === 'restricted' && !init.privateNetwork) {
    throw usageError('an index is readable by anyone who knows its name: --access restricted needs a private network (--swarm-key)')
  }

  const { manifest, tarball } = await packForPublish({ dir: init.dir, config, npm: init.npm })
  const { name, version } = manifest
  if (manifest.private === true) throw npmError('EPRIVATE', 'This package has been marked as private\nRemove the \'private\' field from the package.json to publish it.')
  const isDefaultTag = config.isDefault('tag')
  if (isDefaultTag && (semver.parse(version)?.prerelease.length ?? 0) > 0 && config.get('force') !== true) {
    throw new Error('You must specify a tag using --tag when publishing a prerelease version.')
  }

  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`
  const shasum = createHash('sha1').update(tarball).digest('hex')
  const ipfs = await import('./ipfs/index.ts')
  const cacheDir = config.get('cache') as string

  if (dryRun) {
    const cid = await ipfs.cidOfTarball(tarball)
    init.notice(`Publishing to index ${init.target === OWN_INDEX ? '(this machine\'s own)' : init.target} with tag ${tag} and ${access ?? 'default'} access (dry-run)`)
    init.output(`+ ${name}@${version}`)
    init.output(`cid: ${cid}`)
    return
  }

  const node = await init.node()
  if (node === undefined) throw usageError('publish --index needs the network: it cannot run with --offline')
  const index = await node.indexes.open()
  if (init.target !== OWN_INDEX && ipfs.parseIndexName(init.target).name !== index.name) {
    throw npmError('EINDEXKEY', `this machine does not hold the key of index /ipns/${ipfs.parseIndexName(init.target).name} (its own is /ipns/${index.name}); only the key's holder can publish to it`)
  }
  const existing = await index.packument(name)
  if (existing?.versions[version] !== undefined) {
    throw npmError('EPUBLISHCONFLICT', `You cannot publish over the previously published versions: ${version}. (index /ipns/${index.name})`)
  }
  const highest = Object.keys(existing?.versions ?? {}).filter((v) => (semver.parse(v)?.prerelease.length ?? 1) === 0)
    .reduce<string | undefined>((a, b) => a === undefined || semver.gt(b, a) ? b : a, undefined)
  if (isDefaultTag && highest !== undefined && semver.gt(highest, version) && config.get('force') !== true) {
    throw new Error(`Cannot implicitly apply the "latest" tag because previously published version ${highest} is higher than the new version ${version}. You must specify a tag using --tag.`)
  }

  await init.cache.put({ name, version, integrity: `${integrity} sha1-${Buffer.from(shasum, 'hex').toString('base64')}` }, tarball)
  const cid = await ipfs.addTarball(cacheDir, tarball)
  init.notice(`Publishing to index /ipns/${index.name} with tag ${tag} and ${access ?? 'default'} access`)
  await index.addVersion(registryVersion(manifest, { integrity, shasum, tarball: registryTarballUrl(init.registryFor(name), name, version), cid: cid.toString() }), { tags: existing?.['dist-tags'].latest === undefined ? [...new Set([tag, 'latest'])] : [tag] })
  await index.publish()
  init.output(`+ ${name}@${version}`)
  init.output(`cid: ${cid}`)
  init.output(`index: /ipns/${index.name}`)
}
