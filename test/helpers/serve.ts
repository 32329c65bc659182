/**
 * A real `ipfs-npm serve` process, the one way tests start one: on a free loopback port, its node
 * listening on loopback without mDNS unless asked, optionally under a wrapper (`ip netns exec NS`),
 * its output collected, stopped with SIGTERM (then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { ipfsNpmBin } from './conformance.ts'
import { freePort } from './free-port.ts'
import { cleanEnv, stopChild } from './run-command.ts'

export interface ServeInit {
  /** Further arguments: `--userconfig`, `--cache`… */
  args: string[]
  cwd?: string
  /** Added to the clean environment. */
  env?: Record<string, string>
  /** A command prefix to run serve under, e.g. `['ip', 'netns', 'exec', 'ns']`. */
  wrapper?: string[]
  /** Default `/ip4/127.0.0.1/tcp/0`. */
  listen?: string
  /** Default false: tests never look at the LAN unless they mean to. */
  mdns?: boolean
  /** Which of the announced addresses is `address`; default the loopback one. */
  addressPrefix?: string
  /** How long serve gets to start; default 20 s. */
  timeoutMs?: number
}

export interface ServeProcess {
  child: ChildProcess
  port: number
  /** `http://127.0.0.1:PORT/`, its registry (inside the wrapper's namespace, if any). */
  url: string
  /** Its first listening multiaddr starting with `addressPrefix`, with `/p2p/…`. */
  address: string
  /** Everything printed so far (stdout and stderr). */
  readonly output: string
  /** Peak resident memory so far, in MiB (VmHWM). */
  peakRssMiB(): Promise<number>
  stop(): Promise<void>
}

export async function startServe (init: ServeInit): Promise<ServeProcess> {
  const port = await freePort()
  const { wrapper = [], listen = '/ip4/127.0.0.1/tcp/0', mdns = false, addressPrefix = '/ip4/127.0.0.1/' } = init
  const argv = [...wrapper, process.execPath, ipfsNpmBin, 'serve', '--port', String(port), '--listen', listen, ...(mdns ? [] : ['--no-mdns']), ...init.args]
  const child = spawn(argv[0]!, argv.slice(1), { cwd: init.cwd, env: cleanEnv(init.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const announced = (): string | undefined => output.split('\n')
    .map((line) => /listening on (\S+\/p2p\/\S+)/.exec(line)?.[1])
    .find((address) => address?.startsWith(addressPrefix))
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail('did not start in time'), init.timeoutMs ?? 20_000)
    const fail = (why: string): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`ipfs-npm serve ${why} (exit ${child.exitCode}):\n${output}`))
    }
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      // ready once it says so, after its addresses
      const found = announced()
      if (found === undefined || !output.includes('Ctrl-C to stop')) return
      clearTimeout(timer)
      child.off('exit', onExit)
      resolve(found)
    }
    const onExit = (): void => fail('exited')
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', onExit)
  })
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}/`,
    address,
    get output () {
      return output
    },
    async peakRssMiB () {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
    },
    stop: () => stopChild(child),
  }
}
