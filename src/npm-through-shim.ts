/**
 * The user's npm, run against the loopback shim: how `outdated`, `update`, `view` and `dedupe`
 * see what installs see — packuments from signed indexes and peers, tarballs from peers — with
 * npm's own code, output and exit codes. npm is told the shim is every registry it knows
 * (default and scoped) and to fetch every registry tarball from it; the shim forwards the rest
 * upstream with the user's auth. Packuments keep their registry `dist.tarball`, so a lockfile
 * npm writes this way carries registry URLs, never the shim's.
 */
import type { NpmConfig } from './config.ts'
import type { NpmLocation } from './npm-location.ts'
import { runUserNpm } from './passthrough.ts'
import type { Pipeline } from './pipeline.ts'

/** The flags that point npm at the shim. */
export function shimFlags (config: NpmConfig, shimUrl: string): string[] {
  const scopes = Object.keys(config.flat).filter((key) => /^@.*:registry$/i.test(key))
  // `never` is the user's wish to fetch tarballs where the lockfile says; everything else: the shim
  const replace = config.get('replace-registry-host') === 'never' ? 'never' : 'always'
  return [`--registry=${shimUrl}`, ...scopes.map((key) => `--${key}=${shimUrl}`), `--replace-registry-host=${replace}`]
}

/** Runs npm with `argv` (as typed, ours taken out) against the pipeline's shim; resolves to npm's exit code. */
export async function runNpmThroughShim (init: { npm: NpmLocation, argv: readonly string[], config: NpmConfig, pipeline: Pipeline }): Promise<number> {
  const { argv } = init
  const dashes = argv.indexOf('--')
  const flags = shimFlags(init.config, init.pipeline.shim.url)
  const shimUrl = init.pipeline.shim.url
  const registry = init.pipeline.upstream.registry
  // npm names the registry it was given in its errors: the user's, not our loopback one
  return runUserNpm(init.npm, dashes === -1 ? [...argv, ...flags] : [...argv.slice(0, dashes), ...flags, ...argv.slice(dashes)], {
    stderr: (line) => line.split(shimUrl).join(registry),
  })
}
