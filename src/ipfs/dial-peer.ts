/**
 * Dialling a peer the user named (`--peer`). Its host gets `reachMs` (`--peer-timeout`) to take
 * the connection, so a machine that is gone costs no more than that; once it has, the handshake
 * (Noise, yamux, identify) runs to libp2p's own per-address bound. On a loaded machine, ours or
 * the peer's, the handshake alone can outlast the peer timeout: cut short there, an install went
 * on without the one peer it had and, with the registry down, failed (seen at load 10).
 *
 * A named peer is one to stay connected to: tagged keep-alive, libp2p dials it again when the
 * connection drops (a peer host under load can drop it mid-install; seen at load 15-20).
 */
import { KEEP_ALIVE, type Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The progress event libp2p's upgrader sends once the transport's connection is open. */
const CONNECTION_OPEN = 'upgrader:encrypt-outbound-connection'

export async function dialNamedPeer (libp2p: Pick<Libp2p, 'dial' | 'peerStore'>, address: Multiaddr, reachMs: number, signal: AbortSignal): Promise<void> {
  const unreached = new AbortController()
  const timer = setTimeout(() => unreached.abort(new Error(`no connection within ${reachMs} ms`)), reachMs)
  try {
    const connection = await libp2p.dial(address, {
      signal: AbortSignal.any([signal, unreached.signal]),
      onProgress: (event: { type: string }) => { if (event.type === CONNECTION_OPEN) clearTimeout(timer) },
    })
    await libp2p.peerStore.merge(connection.remotePeer, { tags: { [KEEP_ALIVE]: {} } })
  } finally {
    clearTimeout(timer)
  }
}
