/**
 * Checks our own options that only the IPFS node would read — multiaddrs and the swarm key — at
 * the start of every install, ci and serve. The node starts only when something is missing, so
 * without this a typo in `--peer` or a broken swarm key would go unnoticed on a warm cache and
 * fail, or silently not apply, on the next cold one.
 */
import { OptionsError } from './options.ts'
import { readSwarmKey } from './ipfs/swarm-key.ts'
import type { IpfsNpmOptions } from './types.ts'

/** Throws a one-line usage error (`EUSAGE`, or the swarm key's `ESWARMKEY`) for the first bad option. */
export async function checkIpfsOptions (options: IpfsNpmOptions): Promise<void> {
  const lists: Array<[string, string[]]> = [['--peer', options.peers], ['--listen', options.listen], ['--bootstrap', options.bootstrap]]
  if (lists.some(([, addresses]) => addresses.length > 0)) {
    const { multiaddr } = await import('@multiformats/multiaddr')
    for (const [flag, addresses] of lists) {
      for (const address of addresses) {
        try {
          multiaddr(address)
        } catch (err) {
          throw new OptionsError(`${flag}: invalid multiaddr ${JSON.stringify(address)}: ${(err as Error).message}`)
        }
      }
    }
  }
  if (options.swarmKey !== undefined) await readSwarmKey(options.swarmKey)
}
