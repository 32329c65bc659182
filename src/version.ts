/**
 * ipfs-npm's own version, from its package.json — found by walking up from this module, which
 * runs from `src/` in tests and from a bundled chunk in `dist/` once built. For `ipfs-npm
 * version-ipfs`, serve's status and the node's identify agent.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let version: string | undefined

/** The `version` of the ipfs-npm package this code belongs to. */
export function ownVersion (): string {
  if (version !== undefined) return version
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'ipfs-npm' && typeof pkg.version === 'string') return (version = pkg.version)
    } catch {
      // no package.json here: look further up
    }
    if (dirname(dir) === dir) return (version = '0.0.0')
  }
}
