/**
 * An in-memory blockstore with the shape bitswap and the UnixFS importer use, for test peers
 * that hold their blocks in memory (no cache). `onGet` runs before a block is given out (a slow
 * or counting peer).
 */
import type { CID } from 'multiformats/cid'

export function memoryBlockstore (onGet: (cid: CID) => Promise<void> = async () => {}): any {
  const blocks = new Map<string, Uint8Array>()
  return {
    async has (cid: CID) { return blocks.has(cid.toString()) },
    async put (cid: CID, bytes: Uint8Array) { blocks.set(cid.toString(), bytes); return cid },
    async * get (cid: CID) {
      const bytes = blocks.get(cid.toString())
      if (bytes === undefined) throw Object.assign(new Error('not found'), { name: 'NotFoundError' })
      await onGet(cid)
      yield bytes
    },
    async delete (cid: CID) { blocks.delete(cid.toString()) },
    async * getAll () {},
    async * putMany (source: AsyncIterable<{ cid: CID, bytes: Uint8Array }>) { for await (const { cid, bytes } of source) { blocks.set(cid.toString(), bytes); yield cid } },
    async * getMany () {},
    async * deleteMany () {},
  }
}
