/**
 * `@libp2p/noise`, minus one copy of every frame received. Its decrypt takes a `dst` view of each
 * frame for its WASM cipher (frames under 1200 bytes) even when Node's native cipher, which
 * ignores it, does the work; and a frame that straddles two socket reads is a list of two
 * chunks, so that "view" is a fresh copy of the whole frame. On loopback every data frame
 * straddles: Noise frames are 65,537 bytes on the wire, Node reads 64 KiB at a time.
 *
 * Measured on one peer's transfer of the large project: the fetcher's CPU 32.5 → 25.7 ms per MB.
 * The bytes on the wire are Noise's own (stock peers interoperate). The secured connection's
 * decrypt is replaced only when it has the shape of @libp2p/noise 17's; otherwise it is left as is.
 */
import { noise } from '@libp2p/noise'
import type { ConnectionEncrypter, SecuredConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

const TAG_LENGTH = 16

interface NoiseMessageStream {
  decrypt?: unknown
  handshake?: { decrypt?: unknown }
}

type Decrypt = (ciphertext: Uint8Array | Uint8ArrayList) => Uint8Array | Uint8ArrayList

/** Replaces the secured connection's decrypt; false when it does not have @libp2p/noise 17's shape (left as is). */
function withoutFrameCopies (secured: SecuredConnection<any>): boolean {
  const stream = secured.connection as unknown as NoiseMessageStream
  const handshake = stream.handshake
  if (typeof stream.decrypt !== 'function' || typeof handshake?.decrypt !== 'function') return false
  const decrypt = (handshake.decrypt as Decrypt).bind(handshake)
  // the stream hands decrypt one frame at a time (a 2-byte length prefix bounds it); without a
  // `dst`, each frame is decrypted into fresh memory, never into the bytes it was read into
  stream.decrypt = (frame: Uint8Array | Uint8ArrayList) => {
    if (frame.byteLength < TAG_LENGTH) throw new Error('Invalid chunk')
    return decrypt(frame)
  }
  return true
}

export interface NoiseFramesOptions {
  /** An outbound connection is secured and its frames are decrypted into fresh memory (see socket-reads.ts). */
  onSecured?(connection: unknown): void
}

/** The Noise connection encrypter (@libp2p/noise's defaults), its received frames decrypted without a copy. */
export function noiseWithoutFrameCopies (options: NoiseFramesOptions = {}): (components: any) => ConnectionEncrypter {
  const create = noise()
  return (components) => {
    const encrypter = create(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = async (connection, opts) => {
      const secured = await secureInbound(connection, opts)
      withoutFrameCopies(secured)
      return secured
    }
    encrypter.secureOutbound = async (connection, opts) => {
      const secured = await secureOutbound(connection, opts)
      if (withoutFrameCopies(secured)) options.onSecured?.(connection)
      return secured
    }
    return encrypter
  }
}
