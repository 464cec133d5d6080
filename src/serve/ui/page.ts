import { type Html, html } from './html.js'

/** What every page's shell needs: the registry name in the corner, and whether there is a cache page. */
export interface Shell {
  /** `registry.intra` or `127.0.0.1:5000`: how clients name this registry. */
  registry: string
  mirror: boolean
}

export function page(shell: Shell, title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ferry</title>
<link rel="stylesheet" href="/ui/static/ui.css">
<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">
<script src="/ui/static/copy.js" defer></script>
</head>
<body>
<header class="top"><a class="brand" href="/ui/">ferry registry</a><a href="/ui/">Repositories</a>${
    shell.mirror ? html`<a href="/ui/cache">Cache</a>` : ''
  }<span class="where">${shell.registry}</span></header>
<main>
${body}
</main>
</body>
</html>
`
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes(n: number): string {
  let i = 0
  let v = n
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`
}

/** `sha256:0123456789ab`: enough to tell digests apart on a page; the full one is in the title and links. */
export const shortDigest = (d: string): string => d.slice(0, d.indexOf(':') + 13)

/** RFC 3339 times as `2024-01-01 00:00 UTC`; anything else as written. */
export function formatTime(value: string | number | undefined): string {
  if (value === undefined || value === '') return ''
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return String(value)
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 90) return `${s}s`
  if (s < 90 * 60) return `${Math.round(s / 60)}m`
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}

export type BadgeKind = 'ok' | 'bad' | 'warn' | 'none'
export const badge = (kind: BadgeKind, text: string): Html => html`<span class="badge ${kind}">${text}</span>`

/** A read-only field holding `value` with a Copy button (copy.js). */
export const copyField = (id: string, value: string, label: string): Html =>
  html`<div class="pinned"><input id="${id}" readonly value="${value}" aria-label="${label}"><button type="button" data-copy="${id}">Copy</button></div>`
