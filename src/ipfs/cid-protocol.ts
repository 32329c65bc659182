/**
 * `/ipfs-npm/integrity-cid/1.0.0`: ask a connected peer which CID holds the tarball with a given
 * integrity. One length-prefixed JSON request `{"integrity":"sha512-…"}` and one answer per stream:
 * `{"cid":"bafk…"}` or `{}` (not here). The answer for a tarball ≤ 1 MiB is its raw CID, for a
 * larger one the root of its UnixFS DAG (built on demand by the answering peer). Answers are
 * claims: the asker hashes what it fetches against the integrity before believing them.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'

export const CID_PROTOCOL = '/ipfs-npm/integrity-cid/1.0.0'

/** Enough for one stream per tarball in flight to every peer. */
const MAX_STREAMS = 1024
const MAX_MESSAGE = 16 * 1024

/** What the peer said: a CID, `absent` (it has no such tarball) or `unknown` (no answer). */
export type CidAnswer = CID | 'absent' | 'unknown'

/** Looks an integrity up locally; undefined when we do not have the tarball. */
export type CidLookup = (integrity: string, options: { signal: AbortSignal }) => Promise<CID | undefined>

/** Answers the protocol from `lookup` until libp2p stops. */
export async function handleCidProtocol (libp2p: Libp2p<any>, lookup: CidLookup, timeout: number, log: (msg: string) => void): Promise<void> {
  await libp2p.handle(CID_PROTOCOL, async (stream) => {
    const signal = AbortSignal.timeout(timeout)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
      const request = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray())) as { integrity?: unknown }
      if (typeof request.integrity !== 'string') throw new Error('no integrity in request')
      const cid = await lookup(request.integrity, { signal })
      await lp.write(new TextEncoder().encode(JSON.stringify(cid === undefined ? {} : { cid: cid.toString() })), { signal })
      await stream.close({ signal })
    } catch (err) {
      log(`cid protocol: ${(err as Error).message}`)
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS })
}

/** Asks `peer` for the CID of `integrity`. Never throws: a failure is `unknown`. */
export async function askForCid (libp2p: Libp2p<any>, peer: PeerId, integrity: string, signal: AbortSignal): Promise<CidAnswer> {
  let stream
  try {
    stream = await libp2p.dialProtocol(peer, CID_PROTOCOL, { signal, maxOutboundStreams: MAX_STREAMS })
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
    await lp.write(new TextEncoder().encode(JSON.stringify({ integrity })), { signal })
    const answer = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray())) as { cid?: unknown }
    await stream.close({ signal }).catch(() => {})
    return typeof answer.cid === 'string' ? CID.parse(answer.cid) : 'absent'
  } catch (err) {
    stream?.abort(err as Error)
    return 'unknown'
  }
}
