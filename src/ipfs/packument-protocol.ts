/**
 * `/ipfs-npm/packument/1.0.0`: ask a peer for a packument from its npm cache. One length-prefixed
 * JSON request (`{"name":"express","registry":"https://…/"}`) and one answer per stream:
 * `{"packument":"<JSON text as npm stored it>","fetched":<ms>,"full":true}` or `{"absent":true}`.
 * Answers are claims: the asker believes a packument only once verified (src/metadata).
 */
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { CachedPackument, PackumentLookup } from '../metadata/cached-packuments.ts'
import { decodeJson, encodeJson } from './json-message.ts'

export const PACKUMENT_PROTOCOL = '/ipfs-npm/packument/1.0.0'

/** Packuments run to a few MB (every version of a busy package); requests are tiny. */
const MAX_ANSWER = 64 * 1024 * 1024
const MAX_REQUEST = 4 * 1024

/** A peer's answer. */
export interface PeerPackument extends CachedPackument {
  peer: string
}

export async function handlePackumentProtocol (libp2p: Libp2p<any>, lookup: PackumentLookup, timeout: number, log: (msg: string) => void): Promise<void> {
  await libp2p.handle(PACKUMENT_PROTOCOL, async (stream) => {
    const signal = AbortSignal.timeout(timeout)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REQUEST })
      const { name, registry } = decodeJson(await lp.read({ signal })) as { name?: unknown, registry?: unknown }
      if (typeof name !== 'string' || typeof registry !== 'string' || name.length > 214) throw new Error('malformed request')
      const found = await lookup(name, registry)
      await lp.write(encodeJson(found === undefined ? { absent: true } : { packument: found.text, fetched: found.fetched, full: found.full }), { signal })
      await stream.close({ signal })
    } catch (err) {
      log(`ipfs: packument protocol: ${(err as Error).message}`)
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 32, maxOutboundStreams: 32 })
}

/** Asks every connected peer at once; the answers that came within `signal`. Never throws. */
export async function askPeersForPackument (libp2p: Libp2p<any>, name: string, registry: string, signal: AbortSignal): Promise<PeerPackument[]> {
  const answers = await Promise.all(libp2p.getPeers().map(async (peer): Promise<PeerPackument | undefined> => {
    let stream
    try {
      stream = await libp2p.dialProtocol(peer, PACKUMENT_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_ANSWER })
      await lp.write(encodeJson({ name, registry }), { signal })
      const answer = decodeJson(await lp.read({ signal })) as { packument?: unknown, fetched?: unknown, full?: unknown }
      await stream.close({ signal }).catch(() => {})
      if (typeof answer.packument !== 'string' || typeof answer.fetched !== 'number') return undefined
      return { peer: peer.toString(), text: answer.packument, fetched: answer.fetched, full: answer.full === true }
    } catch {
      stream?.abort(new Error('no answer'))
      return undefined
    }
  }))
  return answers.filter((answer) => answer !== undefined)
}
