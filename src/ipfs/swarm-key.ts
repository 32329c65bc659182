/**
 * Reads a libp2p private-network swarm key (the go-ipfs/kubo `swarm.key` format):
 *
 *     /key/swarm/psk/1.0.0/
 *     /base16/
 *     <64 hex digits>
 */
import { readFile } from 'node:fs/promises'

/** A swarm key that cannot be used; the message is one line, fit for the user. */
export class SwarmKeyError extends Error {
  code = 'ESWARMKEY'
}

/** The key file's bytes, as `@libp2p/pnet`'s `preSharedKey({ psk })` wants them, after checking the format. */
export async function readSwarmKey (path: string): Promise<Uint8Array> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new SwarmKeyError(`cannot read swarm key ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  const [tag, codec, key] = text.trim().split(/\r?\n/).map((line) => line.trim())
  if (tag !== '/key/swarm/psk/1.0.0/' || codec !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(key ?? '')) {
    throw new SwarmKeyError(`malformed swarm key ${path}: expected "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits on three lines`)
  }
  return new TextEncoder().encode(`${tag}\n${codec}\n${key}`)
}
