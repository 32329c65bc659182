/**
 * How signed indexes' IPNS records travel, the way IPNS over pubsub does it (the IPNS pubsub
 * router spec, as Kubo and Helia implement it):
 * - announcements on the gossipsub topic `/record/<base64url routing key>` whenever a record
 *   changes; every node that reads an index subscribes, so a long-lived one hears updates;
 * - the latest record asked for directly with libp2p's fetch protocol (key: the routing key,
 *   `/ipns/<multihash>`), from every connected peer, when a node needs the index now;
 * - and, where there is a DHT with peers in it (the LAN's, the public one with `--bootstrap`),
 *   the record put there on publish and looked up there on resolve, as any IPNS name.
 * A node answers fetches for the records it published and the ones it accepted from others (so
 * an index keeps resolving while its publisher is away). Records here are opaque bytes: the
 * signed index checks every one it is given (src/metadata/index-records.ts).
 */
import type { Fetch } from '@libp2p/fetch'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { IndexRecordTransport } from '../metadata/signed-index.ts'

/** IPNS records are at most 10 KiB (the spec's limit); heard ones are kept a few per name. */
const MAX_RECORD = 10 * 1024
const HEARD_PER_NAME = 4
/** How long a DHT put may walk the network, in ms. */
const DHT_PUT_TIMEOUT = 60_000

export interface RecordTransportInit {
  libp2p: Libp2p<{ lanDHT: SingleKadDHT, aminoDHT?: SingleKadDHT }>
  /** The node's gossipsub and fetch services (present only on a node started for index records). */
  pubsub: GossipSub
  fetch: Fetch
  /** Settles when configured peers were dialled and the LAN had its moment (a first peer, when there was none). */
  ready(): Promise<void>
  log(msg: string): void
}

const keyOf = (routingKey: Uint8Array): string => Buffer.from(routingKey).toString('base64url')
export const recordTopic = (routingKey: Uint8Array): string => `/record/${keyOf(routingKey)}`

export function createRecordTransport (init: RecordTransportInit): IndexRecordTransport {
  const { libp2p, pubsub, fetch, log } = init
  const served = new Map<string, Uint8Array>()
  const heard = new Map<string, Uint8Array[]>()
  const topics = new Map<string, string>()
  const listeners: Array<(routingKey: Uint8Array) => void> = []

  pubsub.addEventListener('message', (evt: CustomEvent<Message>) => {
    const key = topics.get(evt.detail.topic)
    if (key === undefined || evt.detail.data.byteLength > MAX_RECORD) return
    heard.set(key, [evt.detail.data, ...(heard.get(key) ?? [])].slice(0, HEARD_PER_NAME))
    for (const listener of listeners) listener(Buffer.from(key, 'base64url'))
  })
  fetch.registerLookupFunction('/ipns/', async (key) => served.get(keyOf(key)))

  /** The DHTs with someone in them to ask or to tell. */
  const dhts = (): SingleKadDHT[] => [libp2p.services.lanDHT, libp2p.services.aminoDHT]
    .filter((dht): dht is SingleKadDHT => dht !== undefined && dht.routingTable.size > 0)

  const subscribe = (routingKey: Uint8Array): void => {
    const topic = recordTopic(routingKey)
    if (topics.has(topic)) return
    topics.set(topic, keyOf(routingKey))
    pubsub.subscribe(topic)
  }

  return {
    onAnnounce (listener) {
      listeners.push(listener)
    },
    serve (routingKey, record) {
      served.set(keyOf(routingKey), record)
      subscribe(routingKey)
    },
    async publish (routingKey, record) {
      served.set(keyOf(routingKey), record)
      subscribe(routingKey)
      try {
        await pubsub.publish(recordTopic(routingKey), record)
      } catch (err) {
        log(`ipns: announcing a record: ${(err as Error).message}`)
      }
      // in the background: a DHT put walks the network and must not hold the publisher up
      for (const dht of dhts()) {
        void (async () => {
          for await (const event of dht.put(routingKey, record, { signal: AbortSignal.timeout(DHT_PUT_TIMEOUT) })) void event
        })().catch((err: Error) => log(`ipns: putting a record in the DHT: ${err.message}`))
      }
    },
    async find (routingKey, { timeout }) {
      subscribe(routingKey)
      // startup, dialling and the wait for a first peer do not eat the peers' time to answer
      await init.ready()
      const signal = AbortSignal.timeout(timeout)
      const fromPeers = Promise.all(libp2p.getPeers().map(async (peer) => {
        try {
          const record = await fetch.fetch(peer, routingKey, { signal })
          return record !== undefined && record.byteLength <= MAX_RECORD ? record : undefined
        } catch {
          return undefined
        }
      }))
      const fromDhts = Promise.all(dhts().map(async (dht) => {
        const found: Uint8Array[] = []
        try {
          for await (const event of dht.get(routingKey, { signal })) {
            if (event.name === 'VALUE' && event.value.byteLength <= MAX_RECORD) found.push(event.value)
          }
        } catch {}
        return found
      }))
      const [answers, stored] = await Promise.all([fromPeers, fromDhts])
      return [...answers.filter((record) => record !== undefined), ...stored.flat(), ...(heard.get(keyOf(routingKey)) ?? [])]
    },
  }
}

/**
 * The transport of a node started without index records (IpfsNodeInit.indexRecords false): an
 * index used on it is a caller's mistake, so every use but subscribing to announcements throws.
 */
export function refusingRecordTransport (): IndexRecordTransport {
  const refuse = (): never => { throw new Error('this IPFS node was started without signed-index records (indexRecords: false)') }
  return {
    onAnnounce () {},
    serve: refuse,
    publish: async () => refuse(),
    find: async () => refuse(),
  }
}
