/**
 * Finds the user's own npm — never ourselves, even when ipfs-npm is installed or symlinked as
 * `npm`. `IPFS_NPM_NPM` (path of npm's `bin/npm-cli.js`) overrides the search.
 */
import { accessSync, constants, realpathSync, readFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'

export interface NpmLocation {
  /** npm's package root (where its `package.json`, `lib/` and builtin `npmrc` live). */
  root: string
  /** npm's JavaScript entry point, `<root>/bin/npm-cli.js`. */
  cli: string
}

function npmRootOf (file: string): string | undefined {
  let real: string
  try {
    real = realpathSync(file)
  } catch {
    return undefined
  }
  // npm's bin is <root>/bin/npm-cli.js; a foreign wrapper script is not npm
  const root = dirname(dirname(real))
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string }
    return pkg.name === 'npm' ? root : undefined
  } catch {
    return undefined
  }
}

/** The user's npm, or undefined if none is installed. */
export function findUserNpm (env: NodeJS.ProcessEnv = process.env, execPath = process.execPath): NpmLocation | undefined {
  const candidates: string[] = []
  if (env.IPFS_NPM_NPM) candidates.push(env.IPFS_NPM_NPM)
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '') candidates.push(join(dir, 'npm'))
  }
  // npm ships beside node in every official Node.js build
  candidates.push(join(dirname(execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'))
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK | constants.R_OK)
    } catch {
      continue
    }
    const root = npmRootOf(candidate)
    if (root !== undefined) return { root, cli: join(root, 'bin', 'npm-cli.js') }
  }
  return undefined
}
