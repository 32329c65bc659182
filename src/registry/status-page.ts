/**
 * `serve`'s status page, `GET /` from a browser: the node (peer id, addresses, connected peers),
 * what was served and saved (tarballs and bytes, per client kind and origin, minute by minute)
 * and the cache. One self-contained document — inline style, an inline SVG chart, no script and
 * no external asset — rendered on the server and reloaded by the browser every 10 s.
 */
import { formatBytes, type ServeStatus } from '../status.ts'
import { CLIENT_LABELS } from './clients.ts'
import type { Counts, Minute } from './served.ts'

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const cell = (counts: Counts): string => `<td>${counts.tarballs}</td><td>${formatBytes(counts.bytes)}</td>`

function table (id: string, heading: string, rows: Record<string, Counts>, label: (key: string) => string = (key) => key): string {
  const body = Object.entries(rows).map(([name, counts]) => `<tr data-key="${escapeHtml(name)}"><th>${escapeHtml(label(name))}</th>${cell(counts)}</tr>`).join('')
  return `<table id="${id}"><thead><tr><th>${heading}</th><th>tarballs</th><th>bytes</th></tr></thead><tbody>${body}</tbody></table>`
}

/** Bytes served per minute over the last hour: all of it, and the part not from the registry. */
function chart (history: Minute[], now: number): string {
  const width = 600
  const height = 120
  const start = Math.floor(now / 60_000) * 60_000 - 59 * 60_000
  const max = Math.max(1, ...history.map((m) => m.bytes))
  const bars = history.filter((m) => m.at >= start).map((m) => {
    const x = ((m.at - start) / 60_000) * (width / 60)
    const h = (m.bytes / max) * height
    const saved = (m.saved.bytes / max) * height
    return `<rect class="all" x="${x}" y="${height - h}" width="${width / 60 - 1}" height="${h}"><title>${new Date(m.at).toISOString().slice(11, 16)}: ${formatBytes(m.bytes)}</title></rect>` +
      `<rect class="saved" x="${x}" y="${height - saved}" width="${width / 60 - 1}" height="${saved}"/>`
  }).join('')
  return `<svg id="history" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="bytes served per minute, last hour">` +
    `<rect class="frame" x="0" y="0" width="${width}" height="${height}"/>${bars}</svg>`
}

export function statusPage (status: ServeStatus, now = Date.now()): string {
  const { node, http, cache } = status
  const list = (id: string, items: string[], empty: string): string =>
    items.length === 0 ? `<p id="${id}" class="none">${empty}</p>` : `<ul id="${id}">${items.map((i) => `<li><code>${escapeHtml(i)}</code></li>`).join('')}</ul>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>ipfs-npm serve</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:56em;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}
code{font:12px ui-monospace,monospace;word-break:break-all}
table{border-collapse:collapse;margin:.5em 2em .5em 0;display:inline-table;vertical-align:top}
th,td{padding:.2em .8em;text-align:right;border-bottom:1px solid #eee}th:first-child{text-align:left}
.big{font-size:1.6em;font-weight:600}.none{color:#888}
svg .frame{fill:#fafafa;stroke:#ddd}svg .all{fill:#b8c7e0}svg .saved{fill:#2f7d4f}
</style></head>
<body>
<h1>ipfs-npm serve <small>${escapeHtml(status.version)}</small></h1>
<p>Registry <code id="registry">${escapeHtml(status.registry)}</code> — use it with <code>--registry</code>. Up since <span id="started">${new Date(status.startedAt).toISOString()}</span>.</p>
<h2>Served</h2>
<p><span class="big" id="saved-bytes">${formatBytes(http.saved.bytes)}</span> not from the registry
(<span id="saved-tarballs">${http.saved.tarballs}</span> of <span id="served-tarballs">${http.tarballs}</span> tarballs, ${formatBytes(http.bytes)} served over HTTP);
<span id="bitswap">${node.bitswap.blocks} blocks, ${formatBytes(node.bitswap.bytes)}</span> to peers over bitswap.</p>
${table('by-client', 'client', http.byClient, (kind) => CLIENT_LABELS[kind] ?? kind)}
${table('by-origin', 'from', http.byOrigin)}
<p>Bytes served per minute, last hour (green: not from the registry)</p>
${chart(http.history, now)}
<h2>Node</h2>
<p>Peer id <code id="peer-id">${escapeHtml(node.peerId)}</code></p>
<p>Listening on</p>${list('addresses', node.addresses, 'no addresses')}
<p><span id="peer-count">${node.peers.length}</span> connected peer${node.peers.length === 1 ? '' : 's'}</p>${list('peers', node.peers, 'none')}
<h2>Cache</h2>
<p id="cache"><span id="cache-tarballs">${cache.tarballs}</span> tarballs, <span id="cache-bytes">${formatBytes(cache.bytes)}</span> in npm's cache, all servable to peers.</p>
</body></html>
`
}
