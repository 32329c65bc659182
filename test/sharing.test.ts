/**
 * The sharing policy's verdicts, case by case: what npm's config and the user's `private` list
 * make private, and that whatever has no known origin is private too.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createSharingPolicy } from '../src/sharing.ts'

const flat = {
  registry: 'https://registry.example/',
  '@corp:registry': 'https://npm.corp.example/repo/',
  '//npm.corp.example/repo/:_authToken': 'secret',
  '//basic.example:8443/:username': 'me',
  '//basic.example:8443/:_password': 'cGFzcw==',
  '//mtls.example/:certfile': '/etc/cert.pem',
}

test('a registry npm holds credentials for is private on its whole host, whatever the path', () => {
  const sharing = createSharingPolicy({ flat })
  assert.equal(sharing.isPrivate({ url: 'https://npm.corp.example/repo/@corp/x/-/x-1.0.0.tgz' }), true)
  assert.equal(sharing.isPrivate({ url: 'https://npm.corp.example/elsewhere/y/-/y-1.0.0.tgz' }), true)
  assert.equal(sharing.isPrivate({ url: 'https://basic.example:8443/z/-/z-1.0.0.tgz' }), true)
  assert.equal(sharing.isPrivate({ url: 'https://basic.example/z/-/z-1.0.0.tgz' }), false, 'another port is another host')
  assert.equal(sharing.isPrivate({ url: 'https://mtls.example/a/-/a-1.0.0.tgz' }), true)
  assert.equal(sharing.isPrivate({ url: 'https://registry.example/lodash/-/lodash-4.17.21.tgz' }), false)
})

test('a name alone stands for the registry npm would fetch it from', () => {
  const sharing = createSharingPolicy({ flat })
  assert.equal(sharing.isPrivate({ name: '@corp/x' }), true)
  assert.equal(sharing.isPrivate({ name: 'lodash' }), false)
  assert.equal(sharing.isPrivate({ name: '@other/x' }), false)
})

test('unknown origins are private: no URL, not http(s), unparsable', () => {
  const sharing = createSharingPolicy({ flat })
  assert.equal(sharing.isPrivate({}), true)
  assert.equal(sharing.isPrivate({ url: 'git+ssh://git@git.corp.example/x.git' }), true)
  assert.equal(sharing.isPrivate({ url: 'file:/tmp/x.tgz' }), true)
  assert.equal(sharing.isPrivate({ url: 'not a url' }), true)
})

test('legacy top-level credentials make the default registry private', () => {
  assert.equal(createSharingPolicy({ flat: { ...flat, _auth: 'dXNlcjpwYXNz' } }).isPrivate({ name: 'lodash' }), true)
  assert.equal(createSharingPolicy({ flat: { ...flat, '//registry.example/:_authToken': '' } }).isPrivate({ name: 'lodash' }), false, 'an empty token is none')
})

test('the user marks registries (URL prefix or host) and scopes private', () => {
  const sharing = createSharingPolicy({ flat, private: ['@intranet', 'https://mirror.example/private/', 'lan-registry:4873'] })
  assert.equal(sharing.isPrivate({ name: '@intranet/tool' }), true)
  assert.equal(sharing.isPrivate({ url: 'https://registry.example/@intranet/tool/-/tool-1.0.0.tgz' }), true, 'the scope in the URL path')
  assert.equal(sharing.isPrivate({ url: 'https://registry.example/@intranet%2ftool' }), true, 'an encoded packument path')
  assert.equal(sharing.isPrivate({ url: 'https://mirror.example/private/a/-/a-1.0.0.tgz' }), true)
  assert.equal(sharing.isPrivate({ url: 'https://mirror.example/public/a/-/a-1.0.0.tgz' }), false)
  assert.equal(sharing.isPrivate({ url: 'http://lan-registry:4873/a/-/a-1.0.0.tgz' }), true)
  assert.equal(sharing.isPrivate({ url: 'https://registry.example/@other/tool/-/tool-1.0.0.tgz' }), false)
})
