/**
 * The bench's registry: serves a mirror directory filled by lib/mirror-fill.ts (abbreviated
 * packuments and tarballs) over HTTP with keep-alive, like a registry's CDN would. Runs as its
 * own process so it can live in a network namespace behind the shaped link.
 *
 *   node bench/mirror-server.ts --dir DIR [--host 127.0.0.1] [--port 0] [--base URL]
 *
 * `--base` is the URL clients reach it at (a delay line in front of it has another address);
 * prints `listening <url>` once ready.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { MIRROR_PLACEHOLDER, packumentFile, tarballFile } from './lib/mirror-fill.ts'

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    base: { type: 'string' },
  },
})
if (values.dir === undefined) {
  process.stderr.write('mirror-server: --dir is required\n')
  process.exit(1)
}
const dir = values.dir
let base = ''

const server = createServer({ keepAlive: true }, (req, res) => {
  const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/').replace(/^\/+/, '')
  const notFound = (): void => {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}')
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return notFound()
  if (/^(@[^/]+\/)?[^/@]+\/-\/[^/]+\.tgz$/.test(path)) {
    const file = tarballFile(dir, path)
    stat(file).then((s) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': s.size })
      if (req.method === 'HEAD') return res.end()
      createReadStream(file).pipe(res)
    }, notFound)
    return
  }
  if (/^(@[^/]+\/)?[^/@]+$/.test(path)) {
    readFile(packumentFile(dir, path), 'utf8').then((text) => {
      const body = Buffer.from(text.replaceAll(MIRROR_PLACEHOLDER, base))
      res.writeHead(200, { 'content-type': 'application/vnd.npm.install-v1+json', 'content-length': body.length })
      res.end(req.method === 'HEAD' ? undefined : body)
    }, notFound)
    return
  }
  notFound()
})
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo
  base = values.base ?? `http://${values.host}:${port}/`
  process.stdout.write(`listening ${base}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
