import type { RevokedKey, VerificationKey } from '../../../policy/index.js'
import type { AttachedView, Evidence } from '../evidence.js'
import { type Html, html } from '../html.js'
import { badge, formatTime, shortDigest } from '../page.js'

const CREATED = 'org.opencontainers.image.created'
const NODE_CLASS = { signature: 'sig', attestation: 'att', sbom: 'sbom', artifact: 'art' } as const

function signatureLines(v: AttachedView, haveKeys: boolean): Html {
  if (!haveKeys)
    return html`<div class="check">${badge('none', 'not checked')} <span class="muted">serve has no --policy keys to check it with</span></div>`
  if (!v.signatures?.length)
    return html`<div class="check">${badge('none', 'not checked')} <span class="muted">no signature layer the verify reads</span></div>`
  return html`${v.signatures.map((s) =>
    s.ok
      ? html`<div class="check signature-ok">${badge('ok', 'verified')} with <strong>${s.key!.name}</strong> <code>${s.key!.fingerprint}</code></div>`
      : html`<div class="check signature-bad">${badge('bad', 'does not verify')} <span>${s.reason ?? ''}</span></div>`,
  )}`
}

function sbomLines(repository: string, v: AttachedView): Html {
  const s = v.sbom
  if (!s) return html``
  const download = html`<a href="/ui/sbom/${repository}@${v.entry.digest}">Download</a>`
  if (!s.summary)
    return html`<div class="check">${badge('warn', 'unreadable')} ${s.error ?? ''} · ${download}</div>`
  const { summary } = s
  const top = summary.licenses.slice(0, 12)
  const more = summary.licenses.length - top.length
  return html`<div class="check sbom-summary"><strong class="sbom-packages">${summary.packages}</strong> packages · ${summary.version}${
    summary.name ? html` · <span class="muted">${summary.name}</span>` : ''
  } · ${download}
<ul class="licenses">${top.map((l) => html`<li>${l.license}: ${l.packages}</li>`)}${
    summary.unlicensed ? html`<li class="muted">no licence stated: ${summary.unlicensed}</li>` : ''
  }${more > 0 ? html`<li class="muted">${more} more licences</li>` : ''}</ul></div>`
}

function node(repository: string, v: AttachedView, haveKeys: boolean): Html {
  const e = v.entry
  const created = e.annotations?.[CREATED]
  return html`<li><div class="node ${NODE_CLASS[v.kind]}" data-kind="${v.kind}" data-digest="${e.digest}">
<span class="kind">${v.label}</span><a class="mono" href="/ui/repo/${repository}@${e.digest}" title="${e.digest}">${shortDigest(e.digest)}</a>${
    e.tag ? html` <span class="muted mono">${e.tag}</span>` : ''
  }${created ? html` <span class="muted">${formatTime(created)}</span>` : ''}${e.missing ? html` ${badge('bad', 'listed, but missing')}` : ''}
${v.kind === 'signature' ? signatureLines(v, haveKeys) : ''}${v.kind === 'sbom' ? sbomLines(repository, v) : ''}
</div>${v.children.length ? html`<ul>${v.children.map((c) => node(repository, c, haveKeys))}</ul>` : ''}</li>`
}

/** The referrers tree: the image's attachments, recursively, then each platform image's. */
export function evidenceSection(
  repository: string,
  evidence: Evidence,
  keys: readonly VerificationKey[],
): Html {
  const haveKeys = keys.length > 0
  const tree = (list: AttachedView[]) =>
    list.length
      ? html`<ul class="tree">${list.map((v) => node(repository, v, haveKeys))}</ul>`
      : html`<p class="muted">Nothing attached.</p>`
  return html`<h2 id="referrers">Signatures, SBOMs and other attachments</h2>
<p class="muted">OCI 1.1 referrers (${evidence.tree.referrersScheme}) and cosign tags, recursively.${
    haveKeys ? ' Signatures are checked offline with the policy’s keys.' : ''
  }</p>
${tree(evidence.root)}
${evidence.platforms.map(
  (p) =>
    html`<h3>Attached to ${p.platform ?? 'a platform image'} <span class="mono muted">${shortDigest(p.digest)}</span></h3>${tree(p.attached)}`,
)}`
}

/** A key's validity window as the policy writes it. */
const windowOf = (k: VerificationKey): string =>
  [k.notBefore && `from ${k.notBefore}`, k.notAfter && `until ${k.notAfter}`].filter(Boolean).join(' ') ||
  'no window'

/**
 * The keys signatures are checked with, by name and fingerprint, with their validity windows and the
 * environments that require them, then the keys the policy revokes (`trust.revoked`).
 */
export function keysSection(
  keys: readonly { key: VerificationKey; environments: string[] }[],
  revoked: readonly RevokedKey[],
): Html {
  if (!keys.length && !revoked.length) return html``
  return html`<h2 id="keys">Policy keys</h2>
<table><thead><tr><th>Key</th><th>Fingerprint (sha256 of the DER SubjectPublicKeyInfo)</th><th>Valid</th><th>Environments</th></tr></thead>
<tbody>${keys.map(
    (k) =>
      html`<tr><td>${k.key.name}</td><td><code>${k.key.fingerprint}</code></td><td>${windowOf(k.key)}</td><td>${k.environments.join(', ')}</td></tr>`,
  )}${revoked.map(
    (r) =>
      html`<tr class="revoked"><td>${r.name ?? ''}</td><td><code>${r.fingerprint}</code></td><td>${badge('bad', 'revoked')}</td><td></td></tr>`,
  )}</tbody></table>
<p class="muted">A signature counts only by a key inside its window and not revoked; a revoked key never counts, whichever environment lists it.</p>`
}
