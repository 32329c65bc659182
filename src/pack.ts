/**
 * Packs a package directory exactly as `npm publish` does before it uploads: `prepublishOnly`,
 * then the user's npm's own libnpmpack (`prepack`, `prepare`, `postpack`, npm-packlist's file
 * list), so the bytes, and so the integrity and CID, are the ones `npm pack` makes; and the
 * "Tarball Contents" notice npm prints, from npm's own `lib/utils/tar.js`.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { NpmConfig } from './config.ts'
import type { NpmLocation } from './npm-location.ts'

const require = createRequire(import.meta.url)

export interface PackedPackage {
  /** package.json as npm publishes it (`@npmcli/package-json`'s prepare), read after packing. */
  manifest: Record<string, unknown> & { name: string, version: string }
  tarball: Uint8Array
}

interface PackageJson { prepare(path: string): Promise<{ content: PackedPackage['manifest'] }> }
type Pack = (spec: string, opts: Record<string, unknown>) => Promise<Buffer>
interface NpmTar {
  getContents(manifest: unknown, tarball: Buffer): Promise<unknown>
  logTar(contents: unknown, opts: { unicode: boolean, json: boolean }): void
}
type RunScript = (opts: Record<string, unknown>) => Promise<unknown>

/** Packs `dir` (npm's localPrefix for `ipfs-npm publish`), scripts and notice as npm's publish. */
export async function packForPublish (init: { dir: string, config: NpmConfig, npm: NpmLocation }): Promise<PackedPackage> {
  const { dir, config } = init
  const fromNpm = createRequire(join(init.npm.root, 'package.json'))
  const pkgJson = require('@npmcli/package-json') as PackageJson
  const ignoreScripts = config.get('ignore-scripts') === true
  const scriptShell = config.get('script-shell') as string | undefined || undefined
  if (!ignoreScripts) {
    const runScript = require('@npmcli/run-script') as RunScript
    await runScript({ event: 'prepublishOnly', path: dir, stdio: 'inherit', pkg: (await pkgJson.prepare(dir)).content, scriptShell })
  }
  const pack = fromNpm('libnpmpack') as Pack
  const tarball = await pack(dir, {
    ...config.flat,
    foregroundScripts: config.isDefault('foreground-scripts') ? true : config.get('foreground-scripts'),
    dryRun: true,
    prefix: config.localPrefix,
  })
  // re-read: prepack may have changed it, as npm's publish knows
  const { content: manifest } = await pkgJson.prepare(dir)
  const tar = fromNpm('./lib/utils/tar.js') as NpmTar
  tar.logTar(await tar.getContents(manifest, tarball), { unicode: config.get('unicode') === true, json: false })
  return { manifest, tarball: new Uint8Array(tarball) }
}
