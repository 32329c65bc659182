// Whether a Node.js version satisfies package.json's `engines.node`, read at run time so the
// range is written once. Plain JavaScript that any Node runs, so an old one can say it is old.
// As a script: `node bin/node-version.js [version]` exits 0 when the version (default: this
// Node's) is supported, 1 when not.
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

/** The `engines.node` range, e.g. `^22.22.2 || ^24.15.0 || >=26`. */
export const enginesRange = pkg.engines.node

const parse = (v) => v.replace(/^v/, '').split('.').map((n) => Number.parseInt(n, 10) || 0)
const compare = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]

/** Whether `version` satisfies one comparator set: `^X.Y.Z`, `>=X[.Y.Z]`, `X.Y.Z`. */
function satisfiesPart (version, part) {
  const caret = /^\^(\d+(?:\.\d+){0,2})$/.exec(part)
  if (caret !== null) {
    const low = [...parse(caret[1]), 0, 0].slice(0, 3)
    return version[0] === low[0] && compare(version, low) >= 0
  }
  const atLeast = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(part)
  if (atLeast !== null) return compare(version, [...parse(atLeast[1]), 0, 0].slice(0, 3)) >= 0
  return compare(version, [...parse(part), 0, 0].slice(0, 3)) === 0
}

/** Whether `version` (default: this Node's) satisfies `engines.node`. */
export function supportedNode (version = process.versions.node) {
  const v = [...parse(version), 0, 0].slice(0, 3)
  return enginesRange.split('||').some((part) => satisfiesPart(v, part.trim()))
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = supportedNode(process.argv[2]) ? 0 : 1
}
