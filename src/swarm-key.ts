/**
 * Reads a libp2p private-network swarm key (the go-ipfs/kubo `swarm.key` format):
 *
 *     /key/swarm/psk/1.0.0/
 *     /base16/
 *     <64 hex digits>
 *
 * It lives beside the options, not in ipfs/: `--swarm-key` is checked with the other options on
 * every run, while ipfs/ is loaded only when a tarball is missing.
 */
import { readFile } from 'node:fs/promises'
import { npmError } from './errors.ts'

/** A swarm key that cannot be used (`ESWARMKEY`); the message is one line, fit for the user. */
const swarmKeyError = (message: string): Error => npmError('ESWARMKEY', message)

/** The key file's bytes, as `@libp2p/pnet`'s `preSharedKey({ psk })` wants them, after checking the format. */
export async function readSwarmKey (path: string): Promise<Uint8Array> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw swarmKeyError(`cannot read swarm key ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  const [tag, codec, key] = text.trim().split(/\r?\n/).map((line) => line.trim())
  if (tag !== '/key/swarm/psk/1.0.0/' || codec !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(key ?? '')) {
    throw swarmKeyError(`malformed swarm key ${path}: expected "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits on three lines`)
  }
  return new TextEncoder().encode(`${tag}\n${codec}\n${key}`)
}
