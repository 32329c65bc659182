/**
 * `ipfs-npm publish` without an index: npm's publish, unchanged — the user's npm runs it, with its
 * scripts, auth, OTP prompts and output — and then the CID of exactly the tarball npm published
 * (copied by src/npm-pack-hook.ts as npm packed it). The tarball goes into npm's cache, so a
 * running `ipfs-npm serve` here serves it at once; `--seed` keeps this process serving it.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import procLog from 'proc-log'
import ssri from 'ssri'
import { createTarballCache } from './cache.ts'
import { createUpstream } from './registry/upstream.ts'
import { createSharingPolicy } from './sharing.ts'
import { registryTarballUrl } from './tarball-url.ts'
import type { CommandContext } from './commands/context.ts'
import { untilStopped } from './commands/until-stopped.ts'
import { runUserNpm } from './passthrough.ts'
import { createLazyPeers } from './peers.ts'
import { readTarballManifest } from './tarball-manifest.ts'

const { log } = procLog

export async function publishWithNpm (ctx: CommandContext): Promise<void> {
  const { config, reporter } = ctx
  const captureDir = await mkdtemp(join(tmpdir(), 'ipfs-npm-publish-'))
  try {
    const hook = new URL('./npm-pack-hook.js', import.meta.url).href
    const code = await runUserNpm(ctx.npm, ctx.argv, { nodeArgs: ['--import', hook], env: { ...process.env, IPFS_NPM_PACK_CAPTURE: captureDir } })
    if (code !== 0) {
      process.exitCode = code
      return
    }
    const dryRun = config.get('dry-run') === true
    const cacheDir = config.get('cache') as string
    const cache = createTarballCache({ cachePath: join(cacheDir, '_cacache') })
    const { registryFor } = createUpstream({ flat: config.flat })
    const { addTarball, cidOfTarball } = await import('./ipfs/index.ts')
    const files = (await readdir(captureDir)).sort()
    for (const file of files) {
      const bytes = new Uint8Array(await readFile(join(captureDir, file)))
      const { name, version, publishConfig } = await readTarballManifest('the tarball npm published', bytes, config.flat)
      // filed under the registry npm published it to: peers outside a swarm get it only if that
      // registry is public to us (src/sharing.ts), as for any tarball fetched from it
      const target = (publishConfig as { registry?: unknown } | undefined)?.registry
      const resolved = registryTarballUrl(typeof target === 'string' ? target : registryFor(name), name, version)
      if (!dryRun) await cache.put({ name, version, integrity: ssri.fromData(bytes, { algorithms: ['sha512', 'sha1'] }).toString(), resolved }, bytes)
      const cid = dryRun ? await cidOfTarball(bytes) : await addTarball(cacheDir, bytes)
      reporter.output(files.length === 1 ? `cid: ${cid}` : `cid: ${cid} (${name}@${version})`)
    }
    if (ctx.options.seed && !dryRun && files.length > 0) await seed(ctx)
  } finally {
    await rm(captureDir, { recursive: true, force: true })
  }
}

/** Serves npm's cache (the tarball just published with it) to peers until Ctrl-C. */
async function seed (ctx: CommandContext): Promise<void> {
  const sharing = createSharingPolicy({ flat: ctx.config.flat, private: ctx.options.private })
  const peers = createLazyPeers({ cacheDir: ctx.config.get('cache') as string, options: ctx.options, offline: false, sharing, log: (msg) => log.verbose('ipfs', msg) })
  try {
    const node = await peers.node()
    if (node === undefined) return
    const { peerId, addresses } = node.info()
    ctx.reporter.output(`Seeding to peers as ${peerId}. Ctrl-C to stop.`)
    for (const address of addresses) ctx.reporter.output(`  listening on ${address}`)
    await untilStopped()
  } finally {
    await peers.stop()
  }
}
