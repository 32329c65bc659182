import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { importByteStream } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { contentPath, createCacheBlockstore } from '../../src/ipfs/cache-blockstore.ts'
import { importTarball, integrityOfCid, rawCidOf } from '../../src/ipfs/cid.ts'
import type { CidIndex } from '../../src/ipfs/cid-index.ts'
import { fetchCidContent } from '../../src/ipfs/fetch-cid.ts'
import { fetchDag, MAX_TARBALL, type Want } from '../../src/ipfs/fetch-dag.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

const integrityOf = (bytes: Uint8Array): string => `sha512-${createHash('sha512').update(bytes).digest('base64')}`

/** Blocks held by a "peer": `want` answers from them as bitswap would (a block of `into`'s length lands there). */
function peer (): { blocks: Map<string, Uint8Array>, wanted: string[], want: Want, put: (cid: CID, bytes: Uint8Array) => Promise<CID> } {
  const blocks = new Map<string, Uint8Array>()
  const wanted: string[] = []
  return {
    blocks,
    wanted,
    put: async (cid, bytes) => { blocks.set(cid.toString(), bytes); return cid },
    want: async (cid, { into }) => {
      wanted.push(cid.toString())
      const bytes = blocks.get(cid.toString())
      if (bytes === undefined) throw new Error(`peer has no ${cid}`)
      if (into?.byteLength !== bytes.byteLength) return bytes
      into.set(bytes)
      return into
    },
  }
}

/** A dag-pb UnixFS file node (hand-encoded Data: Type=file, filesize, blocksizes) linking `links`. */
async function fileNode (links: Array<{ cid: CID, size: number }>): Promise<{ cid: CID, bytes: Uint8Array }> {
  const filesize = links.reduce((n, l) => n + l.size, 0)
  const varint = (n: number): number[] => { const out: number[] = []; while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) } out.push(n); return out }
  const data = Uint8Array.from([0x08, 0x02, 0x18, ...varint(filesize), ...links.flatMap((l) => [0x20, ...varint(l.size)])])
  const bytes = dagPb.encode(dagPb.prepare({ Data: data, Links: links.map((l) => ({ Hash: l.cid, Tsize: l.size })) }))
  return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes }
}

async function rawLeaf (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

const progress = { onSize: () => {}, onVerified: () => {} }

async function store (): Promise<ReturnType<typeof createCacheBlockstore>> {
  const dir = await tempDir('fetch-dag', cleanup)
  return createCacheBlockstore({ cachePath: join(dir, '_cacache') })
}

/** A blockstore holding `blocks`, one of which (`bad`) a disk gone bad has since overwritten with other bytes of its length. */
async function storeWithCorrupt (blocks: Map<string, Uint8Array>, bad: CID): Promise<ReturnType<typeof createCacheBlockstore>> {
  const cachePath = join(await tempDir('fetch-dag', cleanup), '_cacache')
  const blockstore = createCacheBlockstore({ cachePath })
  for (const [cid, bytes] of blocks) await blockstore.put(CID.parse(cid), bytes)
  await writeFile(contentPath(cachePath, integrityOfCid(bad)!), randomBytes(blocks.get(bad.toString())!.byteLength))
  return blockstore
}

test('a DAG of our profile, and a deeper one as other importers build them, arrive whole; their blocks are stored after the check', async () => {
  const tarball = randomBytes(3 * 1024 * 1024 + 12_345)
  for (const build of [
    async (p: ReturnType<typeof peer>) => importTarball([tarball], p),
    // 64 KiB chunks, 4 links a node: three levels of dag-pb
    async (p: ReturnType<typeof peer>) => (await importByteStream([tarball], p, { chunker: fixedSize({ chunkSize: 65_536 }), layout: balanced({ maxChildrenPerNode: 4 }), rawLeaves: true, cidVersion: 1 })).cid,
  ]) {
    const p = peer()
    const root = await build(p)
    const blockstore = await store()
    const got = await fetchDag(root, integrityOf(tarball), p.want, blockstore, AbortSignal.timeout(30_000), progress)
    assert.ok(got instanceof Uint8Array && Buffer.from(got).equals(tarball))
    for (const cid of p.blocks.keys()) assert.equal(await blockstore.has(CID.parse(cid)), true, `${cid} stored`)
  }
})

test('other bytes under the DAG are a mismatch, and nothing is stored', async () => {
  const p = peer()
  const root = await importTarball([randomBytes(2 * 1024 * 1024)], p)
  const blockstore = await store()
  assert.equal(await fetchDag(root, integrityOf(randomBytes(10)), p.want, blockstore, AbortSignal.timeout(30_000), progress), 'mismatch')
  assert.equal(await blockstore.has(root), false)
})

test('a lying DAG is refused before its leaves are wanted, or when a leaf is not what the node said', async () => {
  const leafBytes = randomBytes(1000)
  const leaf = await rawLeaf(leafBytes)
  const cases: Array<[string, (p: ReturnType<typeof peer>) => Promise<CID>, RegExp | undefined]> = [
    ['a node smaller than its parent says', async (p) => {
      const child = await fileNode([{ cid: leaf, size: 1000 }])
      const n = await fileNode([{ cid: child.cid, size: 5000 }])
      await p.put(child.cid, child.bytes)
      await p.put(n.cid, n.bytes)
      return n.cid
    }, /a node of 1000 bytes where 5000 belong/],
    ['a link to nothing', async (p) => { const n = await fileNode([{ cid: leaf, size: 1000 }, { cid: leaf, size: 0 }]); await p.put(n.cid, n.bytes); return n.cid }, /a link to nothing/],
    ['a leaf longer than its place', async (p) => { const n = await fileNode([{ cid: leaf, size: 999 }]); await p.put(n.cid, n.bytes); return n.cid }, /a leaf of 1000 bytes where 999 belong/],
    ['more than a tarball may be', async (p) => { const n = await fileNode([{ cid: leaf, size: MAX_TARBALL + 1 }]); await p.put(n.cid, n.bytes); return n.cid }, undefined],
    ['a chain deeper than any importer makes', async (p) => {
      let top = { cid: leaf, size: 1000 }
      for (let i = 0; i < 12; i++) { const n = await fileNode([top]); await p.put(n.cid, n.bytes); top = { cid: n.cid, size: 1000 } }
      return top.cid
    }, /too deep/],
  ]
  for (const [what, build, error] of cases) {
    const p = peer()
    await p.put(leaf, leafBytes)
    const root = await build(p)
    const blockstore = await store()
    const fetching = fetchDag(root, integrityOf(leafBytes), p.want, blockstore, AbortSignal.timeout(30_000), progress)
    if (error === undefined) assert.equal(await fetching, undefined, what)
    else await assert.rejects(fetching, error, what)
    if (what !== 'a leaf longer than its place' && what !== 'a chain deeper than any importer makes') assert.ok(!p.wanted.includes(leaf.toString()), `${what}: no leaf wanted`)
    assert.equal(await blockstore.has(root), false, `${what}: nothing stored`)
  }
})

test('content by CID alone (install <cid>): a UnixFS file arrives whole, then its blocks are stored and its root indexed; a directory is ENOTFILE', async () => {
  const content = randomBytes(2 * 1024 * 1024 + 777)
  const p = peer()
  const root = await importTarball([content], p)
  const blockstore = await store()
  const indexed: string[] = []
  const init = { want: p.want, blockstore, index: { set: async (integrity: string) => { indexed.push(integrity) } } as unknown as CidIndex, peerTimeout: 5000, arrived: () => 0, connectedPeers: () => 1, stopSignal: new AbortController().signal }
  const bytes = await fetchCidContent(root, init)
  assert.ok(Buffer.from(bytes).equals(content))
  assert.deepEqual(indexed, [integrityOf(content)])
  for (const cid of p.blocks.keys()) assert.ok(await blockstore.has(CID.parse(cid)), `${cid} stored`)

  const dir = dagPb.encode(dagPb.prepare({ Data: Uint8Array.from([0x08, 0x01]), Links: [] }))
  const dirCid = CID.createV1(dagPb.code, await sha256.digest(dir))
  await p.put(dirCid, dir)
  await assert.rejects(fetchCidContent(dirCid, init), (err: Error & { code?: string }) => err.code === 'ENOTFILE' && /is a UnixFS directory, not a file/.test(err.message))
})

test('a local block whose file no longer matches its CID is wanted from peers, for a DAG and for a raw CID', async () => {
  const tarball = randomBytes(2 * 1024 * 1024 + 99)
  const p = peer()
  const root = await importTarball([tarball], p)
  const leaf = [...p.blocks.keys()].map((cid) => CID.parse(cid)).find((cid) => cid.code === raw.code)!
  const blockstore = await storeWithCorrupt(p.blocks, leaf)
  const got = await fetchDag(root, integrityOf(tarball), p.want, blockstore, AbortSignal.timeout(30_000), progress)
  assert.ok(got instanceof Uint8Array && Buffer.from(got).equals(tarball), 'the tarball, with the leaf from the peer')
  assert.deepEqual(p.wanted, [leaf.toString()], 'only the bad block was wanted')

  const small = randomBytes(5000)
  const smallCid = rawCidOf(small)
  await p.put(smallCid, small)
  const init = { want: p.want, blockstore: await storeWithCorrupt(new Map([[smallCid.toString(), small]]), smallCid), index: { set: async () => {} } as unknown as CidIndex, peerTimeout: 5000, arrived: () => 0, connectedPeers: () => 1, stopSignal: new AbortController().signal }
  assert.ok(Buffer.from(await fetchCidContent(smallCid, init)).equals(small))
  assert.equal(p.wanted.at(-1), smallCid.toString())
})
