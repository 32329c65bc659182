/** ipfs-npm's own version (package.json's), for `ipfs-npm version-ipfs` and serve's status. */
import { readFileSync } from 'node:fs'

/** Read on demand: from src/ and from the bundle in dist/ alike, package.json is one folder up. */
export function ownVersion (): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
}
