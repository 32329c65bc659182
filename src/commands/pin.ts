/**
 * `ipfs-npm pin <spec>...`: keep tarballs served from this machine — a team's modules stay alive
 * as long as a few always-on machines pin them and run `ipfs-npm serve`. A spec is anything
 * `install` takes from a registry (`name`, `name@range`, `name@tag`) or a CID. The tarball is
 * fetched like any (cache → peers → registry, verified), kept in the pin store (src/pins.ts) and
 * in npm's cache. `pin ls` lists the pins, `pin rm <spec>...` drops them.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import procLog from 'proc-log'
import { npmError } from '../errors.ts'
import type { Pipeline } from '../pipeline.ts'
import type { Pin } from '../pins.ts'
import { commandUsageError, type Command } from './command.ts'
import type { CommandContext } from './context.ts'

const require = createRequire(import.meta.url)
const { log } = procLog

interface Manifest { name: string, version: string, _integrity?: string, _resolved?: string }
interface Pacote { manifest(spec: string, opts: Record<string, unknown>): Promise<Manifest> }
interface Npa { (spec: string): { registry?: boolean, raw: string } }


/** The tarball `spec` names, verified, with what the pin records. */
async function fetchForPin (spec: string, pipeline: Pipeline, flat: Record<string, unknown>, cacheDir: string): Promise<{ pin: Pin, bytes: Uint8Array }> {
  const { addTarball } = await import('../ipfs/index.ts')
  const { cidSpecOf, fetchCidTarball } = await import('../cid-specs.ts')
  const cidSpec = cidSpecOf(spec)
  if (cidSpec !== undefined) {
    const { bytes, manifest, integrity, cid } = await fetchCidTarball(cidSpec, { cache: pipeline.cache, node: pipeline.peers.node, flat })
    await pipeline.cache.put({ name: manifest.name, version: manifest.version, integrity }, bytes)
    await addTarball(cacheDir, bytes)
    return { pin: { name: manifest.name, version: manifest.version, integrity, cid }, bytes }
  }
  const npa = require('npm-package-arg') as Npa
  if (npa(spec).registry !== true) throw npmError('EUSAGE', `cannot pin ${spec}: pin takes registry packages (name@version, name@range) and CIDs`)
  const pacote = require('pacote') as Pacote
  const manifest = await pacote.manifest(spec, { ...pipeline.arboristOptions, fullMetadata: false })
  if (manifest._integrity === undefined) throw npmError('EINTEGRITY', `${manifest.name}@${manifest.version} has no integrity in the registry; it cannot be pinned by content`)
  const ref = { name: manifest.name, version: manifest.version, integrity: manifest._integrity, resolved: manifest._resolved }
  const { data } = await pipeline.resolver.resolve(ref)
  const cid = await addTarball(cacheDir, data)
  const integrity = `sha512-${createHash('sha512').update(data).digest('base64')}`
  return { pin: { name: manifest.name, version: manifest.version, integrity, cid: cid.toString() }, bytes: data }
}

async function exec (ctx: CommandContext): Promise<void> {
  const { config, reporter } = ctx
  config.logWarnings()
  const { createPinStore } = await import('../pins.ts')
  const cacheDir = config.get('cache') as string
  const store = createPinStore(cacheDir)
  const [first, ...rest] = config.args
  if (first === undefined) throw commandUsageError(pin, config.definitions, 'pin needs a package spec or a CID')

  if (first === 'ls' && rest.length === 0) {
    for (const each of await store.list()) reporter.output(`${each.name}@${each.version} ${each.cid}`)
    return
  }
  if (first === 'rm') {
    if (rest.length === 0) throw commandUsageError(pin, config.definitions, 'pin rm needs a package spec or a CID')
    for (const what of rest) {
      const removed = await store.remove(what)
      if (removed.length === 0) throw npmError('E404', `${what} is not pinned`)
      for (const each of removed) reporter.output(`unpinned ${each.name}@${each.version} ${each.cid}`)
    }
    return
  }

  const { startPipeline } = await import('../pipeline.ts')
  const pipeline = await startPipeline({ config, options: ctx.options, oneRun: true, log: (msg) => log.verbose('ipfs', msg) })
  try {
    for (const spec of config.args) {
      const { pin: pinned, bytes } = await fetchForPin(spec, pipeline, config.flat, cacheDir)
      await store.add(pinned, bytes)
      reporter.output(`pinned ${pinned.name}@${pinned.version} ${pinned.cid}`)
    }
  } catch (err) {
    throw pipeline.shim.explain(err)
  } finally {
    await pipeline.stop()
  }
}

export const pin: Command = {
  name: 'pin',
  description: 'Keep tarballs served from this machine, safe from cache cleaning',
  usage: ['<package-spec|cid> ...', 'ls', 'rm <package-spec|cid> ...'],
  params: ['registry', 'cache', 'peer', 'peer-timeout', 'swarm-key', 'offline'],
  aliases: [],
  npm: false,
  exec,
}
