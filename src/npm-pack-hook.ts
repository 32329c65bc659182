/**
 * Loaded (`node --import`) into the user's npm when `ipfs-npm publish` runs it: keeps a copy of
 * every tarball npm's publish packs (npm's own libnpmpack, npm's own scripts and bytes) in the
 * directory `IPFS_NPM_PACK_CAPTURE` names, so the CID printed is the CID of exactly what npm
 * published. npm resolves libnpmpack once; the copy is put in front of it in the require cache.
 */
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

type Pack = (spec: unknown, opts: unknown) => Promise<Uint8Array>

const dir = process.env.IPFS_NPM_PACK_CAPTURE
const cli = process.argv[1]
if (dir !== undefined && dir !== '' && cli !== undefined) {
  // scripts npm runs must not capture anything themselves
  delete process.env.IPFS_NPM_PACK_CAPTURE
  const require = createRequire(cli)
  const path = require.resolve('libnpmpack')
  const pack = require(path) as Pack
  let count = 0
  const module = require.cache[path]
  if (module !== undefined) {
    module.exports = async (spec: unknown, opts: unknown): Promise<Uint8Array> => {
      const tarball = await pack(spec, opts)
      writeFileSync(join(dir, `${String(count++).padStart(4, '0')}.tgz`), tarball)
      return tarball
    }
  }
}
