/**
 * Hostile input against a real `ipfs-npm serve` (the shim on a fixed loopback port, as a browser
 * page or another local user could reach it) and against `ipfs-npm ci`: only loopback, only its
 * own Host, no browser requests, traversal and malformed names refused before anything goes
 * upstream, request size limits, tokens never in output or logs and only sent to their registry
 * host, also through a redirect.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { createWorkspace, errorCode, fastUserconfig, ipfsNpm, report, stackLines, type Workspace } from './helpers.ts'
import { startServe, type ServeProcess } from '../helpers/serve.ts'

let ws: Workspace
let registries: FixtureRegistries
let serve: ServeProcess
let cacheDir: string
/** A registry for the `@red` scope on another loopback address that redirects everything to `main`. */
let redirector: Server
const redirected: IncomingHttpHeaders[] = []
const RED_TOKEN = 'red-token-must-stay-home'

interface Answer { status: number, body: string, headers: IncomingHttpHeaders }

/** One request with full control of headers (fetch() would not let us set Host). */
function send (port: number, path: string, init: { method?: string, headers?: Record<string, string>, body?: Readable | string, host?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: init.host ?? '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (init.body instanceof Readable) {
      init.body.on('error', () => {})
      init.body.pipe(req)
    } else req.end(init.body)
  })
}

before(async () => {
  ws = await createWorkspace('shim-hostile')
  registries = await startFixtureRegistries()
  redirector = createServer((req, res) => {
    redirected.push(req.headers)
    res.writeHead(302, { location: `${registries.main.url}alpha` })
    res.end()
  })
  await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.2', resolve))
  const redPort = (redirector.address() as { port: number }).port
  const userconfig = await fastUserconfig(registries, ws.root, [
    `@red:registry=http://127.0.0.2:${redPort}/`,
    `//127.0.0.2:${redPort}/:_authToken=${RED_TOKEN}`,
    'loglevel=silly',
  ])
  cacheDir = join(ws.root, 'cache')
  serve = await startServe({ cwd: ws.root, args: ['--userconfig', userconfig, '--cache', cacheDir] })
})
after(async () => {
  await serve?.stop()
  await registries.stop()
  await new Promise((resolve) => redirector.close(resolve))
  await ws.cleanup()
})

describe('the shim of ipfs-npm serve', () => {
  test('listens on loopback only: not on 127.0.0.2, not on any other interface', async () => {
    const others = Object.values(networkInterfaces()).flat().filter((i) => i !== undefined && !i.internal && i.family === 'IPv4').map((i) => i!.address)
    for (const address of ['127.0.0.2', ...others]) {
      const refused = await new Promise<boolean>((resolve) => {
        const socket = connect(serve.port, address)
        socket.once('connect', () => { socket.destroy(); resolve(false) })
        socket.once('error', () => resolve(true))
      })
      assert.ok(refused, `reachable on ${address}:${serve.port}`)
    }
    assert.equal((await send(serve.port, '/alpha')).status, 200)
    report('shim reached from a non-loopback address', `refused on 127.0.0.2 and ${others.length} other interface(s)`)
  })

  test('a foreign Host header is refused (DNS rebinding), before anything goes upstream', async () => {
    const before = registries.main.requests.length
    for (const host of ['evil.example', `evil.example:${serve.port}`, `127.0.0.1.evil.example:${serve.port}`, `127.0.0.1:${serve.port + 1}`]) {
      const answer = await send(serve.port, '/alpha', { headers: { host } })
      assert.equal(answer.status, 403, `Host: ${host}`)
    }
    assert.equal(registries.main.requests.length, before)
    report('DNS rebinding (foreign Host)', '403 for 4 foreign Host values, nothing sent upstream')
  })

  test('a request from a web page (Origin, Sec-Fetch-Site) is refused: no CSRF through the user\'s credentials', async () => {
    const before = registries.main.requests.length
    const browser: Array<Record<string, string>> = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
    ]
    for (const headers of browser) {
      for (const method of ['GET', 'POST', 'PUT', 'OPTIONS']) {
        const answer = await send(serve.port, '/alpha', { method, headers, body: method === 'GET' || method === 'OPTIONS' ? undefined : '{}' })
        assert.equal(answer.status, 403, `${method} with ${JSON.stringify(headers)}`)
        assert.equal(answer.headers['access-control-allow-origin'], undefined)
      }
    }
    assert.equal(registries.main.requests.length, before)
    // Node's own fetch sends Sec-Fetch-Mode alone: a client, not a web page
    assert.equal((await send(serve.port, '/alpha', { headers: { 'sec-fetch-mode': 'cors' } })).status, 200)
    report('browser page request (CSRF/CORS)', '403 for 12 method × header cases, nothing sent upstream')
  })

  test('path traversal and malformed names are refused with 400 and never reach the registry or the disk', async () => {
    const before = registries.main.requests.length
    const paths = [
      '/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd', '/alpha/..%2f..%2fsecret', '/alpha/-/..%2f..%2fx.tgz',
      '/alpha/-/%2e%2e%2fx.tgz', '/@fix/..%2falpha', '/%40fix%2f..', '/alpha%00', '/alpha/-/alpha-1.0.0.tgz%00.txt',
      '/%E0%A4%A', `/${'a'.repeat(215)}`, '/.hidden', '/_private', '/@scope-only', '/al%20pha', '/alpha\\..\\x',
      '/a%5c..%5cb', '/@%2e%2e%2fx',
    ]
    for (const path of paths) {
      const answer = await send(serve.port, path)
      assert.equal(answer.status, 400, `${path}: ${answer.status} ${answer.body}`)
    }
    assert.equal(registries.main.requests.length, before, 'nothing forwarded')
    report('path traversal / malformed package names', `${paths.length} paths → 400, none forwarded`)
  })

  test('request size limits: an oversized body (announced or chunked) is refused without being buffered; huge headers too', async () => {
    const announced = await send(serve.port, '/some-pkg', { method: 'PUT', headers: { 'content-length': String(300 * 1024 * 1024) }, body: '' }).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }))
    assert.ok(announced.status === 413, `announced 300 MiB: ${announced.status}`)
    const before = await serve.peakRssMiB()
    const chunk = Buffer.alloc(1024 * 1024, 0x61)
    let sent = 0
    const endless = new Readable({
      read () {
        sent += chunk.length
        this.push(sent > 400 * 1024 * 1024 ? null : chunk)
      },
    })
    const chunked = await send(serve.port, '/some-pkg', { method: 'PUT', headers: { 'transfer-encoding': 'chunked' }, body: endless }).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }))
    const peak = await serve.peakRssMiB()
    // refused at the limit (413), or cut off by the upstream's own timeout (502) while streaming
    assert.ok([413, 502, 0].includes(chunked.status), `chunked 400 MiB: ${chunked.status}`)
    assert.ok(peak - before < 200, `peak RSS grew by ${Math.round(peak - before)} MiB while a body streamed in`)
    const headers = await send(serve.port, '/alpha', { headers: { 'x-big': 'x'.repeat(64 * 1024) } }).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }))
    assert.ok(headers.status === 431 || headers.status === 0, `64 KiB header: ${headers.status}`)
    assert.ok(registries.main.requests.every((r) => r.method !== 'PUT'), 'nothing published upstream')
    report('oversized request body / headers', `413 for 300 MiB announced; chunked 400 MiB streamed, never buffered (answer ${chunked.status}), RSS +${Math.round(peak - before)} MiB; 64 KiB header → ${headers.status}`)
  })

  test('a token is sent only to its registry host: a redirect to another host goes without it', async () => {
    const answer = await send(serve.port, '/@red%2fthing')
    assert.equal(answer.status, 200, answer.body)
    assert.equal(redirected.at(-1)?.authorization, `Bearer ${RED_TOKEN}`, 'the token went to its own registry')
    const followed = registries.main.requests.filter((r) => r.path === '/alpha').at(-1)
    assert.ok(followed, 'the redirect was followed')
    assert.equal(followed.headers.authorization, undefined, 'the token did not follow the redirect')
    for (const r of registries.main.requests) assert.ok(!JSON.stringify(r.headers).includes(registries.token), `main registry saw the scoped token on ${r.path}`)
    assert.ok(!answer.body.includes(RED_TOKEN))
    report('token through a redirect to another host', 'sent to its own host, dropped on the redirect; the scoped token never reached the main registry')
  })

  test('no token in its output or logs, even at loglevel silly and on upstream errors', async () => {
    registries.scoped.faults.status.set('/@fix/scoped-a', 500)
    try {
      const answer = await send(serve.port, '/@fix%2fscoped-a')
      assert.equal(answer.status, 500)
      assert.ok(!answer.body.includes(registries.token))
    } finally {
      registries.scoped.faults.status.delete('/@fix/scoped-a')
    }
    assert.equal((await send(serve.port, '/@fix%2fscoped-a')).status, 200)
    for (const secret of [registries.token, RED_TOKEN]) assert.ok(!serve.output.includes(secret), 'token in serve output')
  })
})

test('ipfs-npm ci: no token in output or the debug log, success or failure', async () => {
  const dir = await ws.project('scoped')
  const userconfig = await fastUserconfig(registries, ws.root, ['loglevel=silly'])
  const cache = join(dir, '..', 'cache')
  const ok = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', cache], dir)
  assert.equal(ok.code, 0, ok.stderr)
  registries.scoped.faults.status.set('/@fix/scoped-a/-/scoped-a-1.0.0.tgz', 500)
  registries.scoped.faults.status.set('/@fix/scoped-a/-/scoped-a-1.1.0.tgz', 500)
  const failed = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', join(dir, '..', 'cache2')], dir)
  registries.scoped.faults.status.clear()
  assert.notEqual(failed.code, 0)
  assert.equal(errorCode(failed), 'E500', failed.stderr)
  assert.deepEqual(stackLines(failed), [])
  const logs: string[] = []
  for (const c of [cache, join(dir, '..', 'cache2')]) {
    for (const file of await readdir(join(c, '_logs')).catch(() => [])) logs.push(await readFile(join(c, '_logs', file), 'utf8'))
  }
  assert.ok(logs.length > 0, 'debug logs written')
  for (const text of [ok.stdout, ok.stderr, failed.stdout, failed.stderr, ...logs]) {
    assert.ok(!text.includes(registries.token), 'token leaked')
  }
  report('tokens in output / debug logs', `none in ${logs.length} debug logs and the output of a good and a failing (E500) ci at loglevel silly`)
})
