/**
 * `ipfs-npm status`: what a running `serve` on this machine reports — its node, what it served
 * and saved, its cache — the same as its status page, as text (or its JSON with `--json`).
 */
import { npmError } from '../errors.ts'
import type { Command } from './command.ts'
import type { CommandContext } from './context.ts'

async function exec (ctx: CommandContext): Promise<void> {
  const { config, options, reporter } = ctx
  const { statusLines } = await import('../status.ts')
  const url = `http://127.0.0.1:${options.port}/-/ipfs-npm/status`
  let status
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
    status = res.ok ? await res.json() as Parameters<typeof statusLines>[0] | { starting: true } : undefined
  } catch {
    // nothing listening, or something that is not serve: said below
  }
  if (status === undefined) {
    throw npmError('ENOSERVE', `no ipfs-npm serve answers on 127.0.0.1:${options.port}: start one with \`ipfs-npm serve\`, or name its port with --port`)
  }
  if (config.get('json') === true) reporter.output(JSON.stringify(status, null, 2))
  else if ('starting' in status) reporter.output(`ipfs-npm serve on 127.0.0.1:${options.port} is starting`)
  else for (const line of statusLines(status)) reporter.output(line)
}

export const status: Command = {
  name: 'status',
  description: 'Show what the ipfs-npm serve on this machine serves: its node, peers, counts and cache',
  usage: [''],
  params: ['port', 'json'],
  aliases: [],
  npm: false,
  exec,
}
