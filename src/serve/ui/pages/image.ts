import { ifPresent } from '../../../errors.js'
import { inspectImage, isImageConfig, readConfig } from '../../../inspect.js'
import type { Digest } from '../../../oci/digest.js'
import { annotationsOf } from '../../../oci/manifest.js'
import { policyKeySet, type VerificationKey } from '../../../policy/index.js'
import { sbomFormatOf } from '../../../supply/kinds.js'
import type { ServeContext } from '../../context.js'
import type { Res } from '../../http.js'
import { gatherEvidence } from '../evidence.js'
import { manifestFacts } from '../facts.js'
import { type Html, html } from '../html.js'
import { UiNotFound } from '../not-found.js'
import { badge, copyField, formatBytes, formatTime, page, type Shell, shortDigest } from '../page.js'
import { requireRepository, tagEntries, verdictOf } from '../repository.js'
import { evidenceSection, keysSection } from './evidence-view.js'
import { ledgerSection } from './ledger.js'
import { verdictBadge } from './tags.js'

/** The policy's keys, each once (by fingerprint), with the environments that name it. */
function policyKeys(ctx: ServeContext): { key: VerificationKey; environments: string[] }[] {
  const byPrint = new Map<string, { key: VerificationKey; environments: string[] }>()
  for (const env of ctx.policy?.policy.environments ?? []) {
    for (const key of env.keys) {
      const k = byPrint.get(key.fingerprint) ?? { key, environments: [] }
      k.environments.push(env.name)
      byPrint.set(key.fingerprint, k)
    }
  }
  return [...byPrint.values()]
}

/** How clients pull it: `REGISTRY/REPO[:TAG]@DIGEST` (a cache's repositories without their upstream's name). */
function pinnedReference(ctx: ServeContext, name: string, digest: Digest, tag?: string): string {
  const repository = ctx.mirror ? name.slice(name.indexOf('/') + 1) : name
  return `${ctx.names[0]}/${repository}${tag ? `:${tag}` : ''}@${digest}`
}

async function resolve(ctx: ServeContext, name: string, tag?: string, digest?: Digest): Promise<Digest> {
  await requireRepository(ctx, name)
  if (tag !== undefined) {
    const found = (await tagEntries(ctx, name)).tags.find((t) => t.tag === tag)
    if (!found) throw new UiNotFound(`no tag ${name}:${tag}`)
    return found.digest
  }
  const held = ctx.mirror ? true : await ctx.members.hasManifest(name, digest!)
  if (!held) throw new UiNotFound(`no manifest ${name}@${digest}`)
  return digest!
}

/**
 * One image (or index, or artifact): the pinned reference, the policy's verdict, platforms, layers,
 * labels, history, what is attached with each signature checked against the policy's keys and each
 * SBOM summarised, and with --ledger the tag's history.
 */
export async function imagePage(
  ctx: ServeContext,
  shell: Shell,
  route: { name: string; tag?: string; digest?: Digest },
): Promise<Html> {
  const { name, tag } = route
  const digest = await resolve(ctx, name, tag, route.digest)
  const target = ctx.store.target(name)
  const manifest = await target.fetchManifest(digest)
  const inspected = await inspectImage(target, digest)
  const facts = await ifPresent(manifestFacts(target, digest))
  const config =
    inspected.config && isImageConfig(inspected.config)
      ? await readConfig(target, inspected.config)
      : undefined
  const keys = policyKeys(ctx)
  const evidence = await gatherEvidence(target, digest, ctx.policy && policyKeySet(ctx.policy.policy))
  const verdict = await verdictOf(ctx, name, digest, tag)
  const title = tag ? `${name}:${tag}` : `${name}@${shortDigest(digest)}`
  const annotations = Object.entries(annotationsOf(manifest) ?? {})
  const labels = Object.entries(inspected.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))
  const history = (config?.history ?? []) as {
    created?: string
    created_by?: string
    empty_layer?: boolean
    comment?: string
  }[]
  return page(
    shell,
    title,
    html`<nav class="crumbs"><a href="/ui/">Repositories</a> / <a href="/ui/repo/${name}">${name}</a> /</nav>
<h1>${title}</h1>
${copyField('pinned', pinnedReference(ctx, name, digest, tag), 'Pinned reference')}
<dl class="facts">
<dt>Digest</dt><dd class="mono">${digest}</dd>
<dt>Media type</dt><dd>${manifest.mediaType}</dd>
${
  facts
    ? html`<dt>Platforms</dt><dd id="platforms">${facts.platforms.join(', ') || facts.artifactType || facts.kind}</dd>
<dt>Size</dt><dd>${formatBytes(facts.size)}</dd>`
    : ''
}
${inspected.created ? html`<dt>Created</dt><dd>${formatTime(inspected.created)}</dd>` : ''}
${inspected.artifactType ? html`<dt>Artifact type</dt><dd>${inspected.artifactType}</dd>` : ''}
</dl>
${
  verdict
    ? html`<h2 id="policy">Policy</h2>
<div class="verdict ${verdict.kind === 'fail' ? 'bad' : verdict.kind === 'pass' ? 'ok' : ''}" id="verdict">
<p>Environment: <strong>${verdict.environments.join(', ') || 'none'}</strong> · Pull: ${verdictBadge(verdict)}</p>
${
  verdict.rows.length
    ? html`<table><thead><tr><th>Rule</th><th>Environment</th><th>Result</th><th>Why</th></tr></thead><tbody>${verdict.rows.map(
        (r) =>
          html`<tr><td>${r.rule}</td><td>${r.environment ?? ''}</td><td>${badge(r.result === 'pass' ? 'ok' : r.result === 'fail' ? 'bad' : 'warn', r.result)}</td><td>${r.message}</td></tr>`,
      )}</tbody></table>`
    : ''
}</div>`
    : ''
}
${
  inspected.manifests
    ? html`<h2 id="index">Platforms</h2>
<table><thead><tr><th>Platform</th><th>Manifest</th><th class="num">Size</th></tr></thead><tbody>${inspected.manifests.map(
        (m) =>
          html`<tr><td>${m.platformName ?? 'unknown'}</td><td><a class="mono" href="/ui/repo/${name}@${m.digest}" title="${m.digest}">${shortDigest(m.digest)}</a></td><td class="num">${formatBytes(m.size)}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${
  inspected.layers
    ? html`<h2 id="layers">Layers</h2>
<table><thead><tr><th>#</th><th>Digest</th><th>Media type</th><th class="num">Size</th></tr></thead><tbody>${inspected.layers.map(
        (l, i) =>
          html`<tr><td>${i + 1}</td><td class="mono" title="${l.digest}">${shortDigest(l.digest)}</td><td>${l.mediaType}</td><td class="num">${formatBytes(l.size)}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${labels.length ? html`<h2 id="labels">Labels</h2><table><tbody>${labels.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</tbody></table>` : ''}
${annotations.length ? html`<h2 id="annotations">Annotations</h2><table><tbody>${annotations.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</tbody></table>` : ''}
${
  history.length
    ? html`<h2 id="history">History</h2>
<table><thead><tr><th>Created</th><th>Step</th><th></th></tr></thead><tbody>${history.map(
        (h) =>
          html`<tr><td>${formatTime(h.created)}</td><td class="mono">${h.created_by ?? ''}${h.comment ? html` <span class="muted">${h.comment}</span>` : ''}</td><td class="muted">${h.empty_layer ? 'no layer' : ''}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${evidenceSection(
  name,
  evidence,
  keys.map((k) => k.key),
)}
${keysSection(keys, ctx.policy?.policy.trust.revoked ?? [])}
${tag && ctx.ui?.ledger ? await ledgerSection(ctx, ctx.ui.ledger, name, tag) : ''}`,
  )
}

/** An SBOM's document as a file download: the SBOM manifest's layer, as stored. */
export async function sbomDownload(
  ctx: ServeContext,
  res: Res,
  method: string,
  name: string,
  digest: Digest,
  headers: Record<string, string>,
): Promise<void> {
  await resolve(ctx, name, undefined, digest)
  const target = ctx.store.target(name)
  const m = await target.fetchManifest(digest)
  const format = sbomFormatOf(m)
  if (!format || m.kind !== 'image') throw new UiNotFound(`${name}@${digest} is no SBOM`)
  const layer = m.image.layers[0]
  if (!layer) throw new UiNotFound(`${name}@${digest} holds no document`)
  const file = `sbom-${digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13)}.${format === 'spdx' ? 'spdx' : 'cdx'}.json`
  res.writeHead(200, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Disposition': `attachment; filename="${file}"`,
    'Content-Length': layer.size,
  })
  if (method === 'HEAD') return void res.end()
  const body = await target.fetchBlob(layer)
  body.on('error', () => res.destroy())
  body.pipe(res)
}
