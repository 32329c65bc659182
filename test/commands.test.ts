/**
 * Our commands describe themselves (src/commands/command.ts); dispatch, abbreviations and usage
 * derive from that. Checked against the user's npm itself: its command classes' own usage texts
 * and its own alias and abbreviation table.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { test } from 'node:test'
import { usageOf } from '../src/commands/command.ts'
import { commandFinder, COMMANDS, mayBeOurs } from '../src/commands/index.ts'
import { loadNpmConfig } from '../src/config.ts'
import { findUserNpm } from '../src/npm-location.ts'

const npm = findUserNpm()!
const npmRequire = createRequire(join(npm.root, 'package.json'))
const cmdList = npmRequire('./lib/utils/cmd-list.js') as { commands: string[], aliases: Record<string, string>, deref(name: string): string | undefined }
const find = commandFinder(npm)

test('a command npm also has prints exactly the usage the user\'s npm prints for it', async () => {
  const config = await loadNpmConfig({ npm, argv: [] })
  const shared = COMMANDS.filter((command) => command.npm)
  assert.ok(shared.length >= 2)
  for (const command of shared) {
    const NpmCommand = npmRequire(`./lib/commands/${command.name}.js`) as { describeUsage: string }
    assert.equal(usageOf(command, config.definitions), NpmCommand.describeUsage, command.name)
  }
})

test('every name npm runs one of our npm commands by (install, ci, publish…) runs ours; other npm commands stay npm\'s', () => {
  const names = [...cmdList.commands, ...Object.keys(cmdList.aliases)]
  // every prefix too: npm's abbreviations
  const typed = new Set(names.flatMap((name) => [...name].map((_, i) => name.slice(0, i + 1))))
  const standIns = new Set(COMMANDS.filter((c) => c.npm).map((c) => c.name))
  let ours = 0
  for (const name of typed) {
    const npmName = cmdList.deref(name)
    const command = find(name)
    if (npmName !== undefined && standIns.has(npmName)) {
      assert.equal(command?.name, npmName, `${name} is npm's ${npmName}`)
      ours++
    } else if (command !== undefined) {
      assert.equal(command.npm, false, `${name}: npm runs ${npmName} for it, we ran ${command.name}`)
      assert.ok(command.name === name || command.aliases.includes(name), `${name}: only exact names reach a command of ours alone`)
    }
  }
  assert.ok(ours > 20, `npm's install and ci names found (${ours})`)
})

test('commands of ours alone answer to their names, never to npm\'s', () => {
  for (const command of COMMANDS.filter((c) => !c.npm)) {
    for (const name of [command.name, ...command.aliases]) {
      assert.ok(!cmdList.commands.includes(name) && cmdList.aliases[name] === undefined, `${name} is npm's command`)
      assert.equal(find(name), command)
    }
  }
  const all = COMMANDS.flatMap((c) => [c.name, ...c.aliases])
  assert.equal(new Set(all).size, all.length, 'no name twice')
})

test('mayBeOurs: the cheap test before npm\'s config', () => {
  assert.equal(mayBeOurs(['run', 'test'], find), false)
  assert.equal(mayBeOurs(['--loglevel', 'warn', 'isntall'], find), true)
  assert.equal(mayBeOurs(['run', 'x', '--', 'ci'], find), false, 'after -- is the script\'s')
  assert.equal(mayBeOurs(['serve'], find), true)
})
