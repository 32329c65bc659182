/**
 * How signed indexes' IPNS records travel, the way IPNS over pubsub does it (the IPNS pubsub
 * router spec, as Kubo and Helia implement it):
 * - announcements on the gossipsub topic `/record/<base64url routing key>` whenever a record
 *   changes; every node that reads an index subscribes, so a long-lived one hears updates;
 * - the latest record asked for directly with libp2p's fetch protocol (key: the routing key,
 *   `/ipns/<multihash>`), from every connected peer, when a node needs the index now.
 * A node answers fetches for the records it published and the ones it accepted from others (so
 * an index keeps resolving while its publisher is away). Records here are opaque bytes: the
 * signed index checks every one it is given (src/metadata/index-records.ts).
 */
import type { Fetch } from '@libp2p/fetch'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { IndexRecordTransport } from '../metadata/signed-index.ts'
import { untilAborted } from './sleep.ts'

/** IPNS records are at most 10 KiB (the spec's limit); heard ones are kept a few per name. */
const MAX_RECORD = 10 * 1024
const HEARD_PER_NAME = 4

export interface RecordTransportInit {
  libp2p: Libp2p<{ pubsub: GossipSub, fetch: Fetch }>
  /** Settles when configured peers were dialled and the LAN had a moment to answer. */
  ready: Promise<void>
  log(msg: string): void
}

const keyOf = (routingKey: Uint8Array): string => Buffer.from(routingKey).toString('base64url')
export const recordTopic = (routingKey: Uint8Array): string => `/record/${keyOf(routingKey)}`

export function createRecordTransport (init: RecordTransportInit): IndexRecordTransport {
  const { libp2p, log } = init
  const served = new Map<string, Uint8Array>()
  const heard = new Map<string, Uint8Array[]>()
  const topics = new Map<string, string>()

  libp2p.services.pubsub.addEventListener('message', (evt: CustomEvent<Message>) => {
    const key = topics.get(evt.detail.topic)
    if (key === undefined || evt.detail.data.byteLength > MAX_RECORD) return
    heard.set(key, [evt.detail.data, ...(heard.get(key) ?? [])].slice(0, HEARD_PER_NAME))
  })
  libp2p.services.fetch.registerLookupFunction('/ipns/', async (key) => served.get(keyOf(key)))

  const subscribe = (routingKey: Uint8Array): void => {
    const topic = recordTopic(routingKey)
    if (topics.has(topic)) return
    topics.set(topic, keyOf(routingKey))
    libp2p.services.pubsub.subscribe(topic)
  }

  return {
    serve (routingKey, record) {
      served.set(keyOf(routingKey), record)
      subscribe(routingKey)
    },
    async publish (routingKey, record) {
      served.set(keyOf(routingKey), record)
      subscribe(routingKey)
      try {
        await libp2p.services.pubsub.publish(recordTopic(routingKey), record)
      } catch (err) {
        log(`ipns: announcing a record: ${(err as Error).message}`)
      }
    },
    async find (routingKey, { signal }) {
      subscribe(routingKey)
      await untilAborted(init.ready, signal)
      const answers = await Promise.all(libp2p.getPeers().map(async (peer) => {
        try {
          const record = await libp2p.services.fetch.fetch(peer, routingKey, { signal })
          return record !== undefined && record.byteLength <= MAX_RECORD ? record : undefined
        } catch {
          return undefined
        }
      }))
      return [...answers.filter((record) => record !== undefined), ...(heard.get(keyOf(routingKey)) ?? [])]
    },
  }
}
