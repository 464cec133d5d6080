import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry, type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { keyFiles, SIGN_ENV } from './policy-helpers.js'

/**
 * The web UI in a real browser (Debian's chromium, driven by playwright-core): a `ferry serve` behind
 * --htpasswd with --policy and --ledger, holding a multi-arch image signed with `ferry sign`, given an
 * SBOM with `ferry attach sbom` (itself signed), and an unsigned image, all pushed with `ferry copy`.
 * Each page is saved as a screenshot under test-artifacts/ui/.
 */
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'ui')
const USER = 'release-manager'
const PASSWORD = 'ui-pa55word'
const CHROMIUM = '/usr/bin/chromium'
// What the policy requires of every image under team/: a signature with release.pub, and a signed SBOM.
const POLICY = `version: 1
environments:
  - name: prod
    match: { repositories: ["**/team/*"] }
    require:
      signature: { keys: [release.pub] }
      sbom: true
`
const SBOM = JSON.stringify({
  spdxVersion: 'SPDX-2.3',
  dataLicense: 'CC0-1.0',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: 'web',
  documentNamespace: 'https://example.com/spdx/web',
  packages: [
    { SPDXID: 'SPDXRef-a', name: 'openssl', licenseConcluded: 'Apache-2.0' },
    { SPDXID: 'SPDXRef-b', name: 'zlib', licenseConcluded: 'Zlib' },
    { SPDXID: 'SPDXRef-c', name: 'musl', licenseConcluded: 'MIT' },
    { SPDXID: 'SPDXRef-d', name: 'busybox', licenseConcluded: 'GPL-2.0-only' },
    { SPDXID: 'SPDXRef-e', name: 'libcrypto', licenseConcluded: 'Apache-2.0' },
  ],
})
// A label as a pusher may write it: the UI must show it as text, never run it.
const HOSTILE_LABEL = '<img src=x onerror="document.title=1">'

type Browser = import('playwright-core').BrowserContext
type Page = import('playwright-core').Page

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** The page as a PNG under test-artifacts/ui/ (gitignored), read back: a screenshot that was not written fails. */
async function screenshot(page: Page, name: string): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`)
  await rm(path, { force: true })
  await page.screenshot({ path, fullPage: true })
  const png = await readFile(path)
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE), `${path} is a PNG`).toBe(true)
  // Width and height from the IHDR chunk: the page, not an empty image.
  expect(png.readUInt32BE(16)).toBe(1280)
  expect(png.readUInt32BE(20)).toBeGreaterThan(200)
}

async function launch(
  userDataDir: string,
  credentials?: { username: string; password: string },
): Promise<Browser> {
  // Imported when the test runs: playwright-core drives the system's chromium, it downloads no browser.
  const { chromium } = await import('playwright-core')
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    ...(credentials ? { httpCredentials: credentials } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

describe('serve web UI in a browser', { timeout: 240_000 }, () => {
  let dir: string
  let served: ServeProcess
  let browser: Browser
  let fingerprint: string
  let signedDigest: string
  const errors: string[] = []
  let authfile: string

  // Seven ferry runs and a browser start: past the 60 s hook default on two busy cores.
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-ui-'))
    await mkdir(ARTIFACTS, { recursive: true })
    const release = await keyFiles(dir, 'release')
    await writeFile(join(dir, 'ferry.policy.yaml'), POLICY)
    await writeFile(join(dir, 'sbom.spdx.json'), SBOM)
    await writeFile(join(dir, 'htpasswd'), `${USER}:${bcrypt.hashSync(PASSWORD, 4)}\n`)
    const src = await openLayoutTarget(join(dir, 'src'), { create: true })
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]
    const labels = { 'org.opencontainers.image.description': HOSTILE_LABEL }
    signedDigest = (
      await pushSyntheticIndex(src, { seed: 'ui-web', layers: 2, layerSize: 2048, labels }, platforms, 'web')
    ).digest
    await pushSyntheticImage(src, { seed: 'ui-tool', layers: 1, layerSize: 1024 }, 'tool')

    const ledger = join(dir, 'ledger.jsonl')
    served = await startFerryServe([
      '--root',
      join(dir, 'root'),
      '--htpasswd',
      join(dir, 'htpasswd'),
      '--policy',
      join(dir, 'ferry.policy.yaml'),
      '--ledger',
      ledger,
    ])
    // A docker config: sign and attach take credentials from it, as after `ferry login`.
    authfile = join(dir, 'auth.json')
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64')
    await writeFile(authfile, JSON.stringify({ auths: { [served.host]: { auth } } }))
    const web = `${served.host}/team/web:v1.0.0`
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const r = await ferry([...args, '--authfile', authfile], { env })
      expect(r.code, `ferry ${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r.stdout.trim()
    }
    await run(['copy', `oci:${join(dir, 'src')}:web`, web])
    await run(['copy', `oci:${join(dir, 'src')}:tool`, `${served.host}/team/tool:v2.0.0`])
    await run(['sign', web, '--key', release.key], SIGN_ENV)
    const sbom = await run(['attach', 'sbom', web, '--file', join(dir, 'sbom.spdx.json')])
    await run(['sign', sbom, '--key', release.key], SIGN_ENV)
    await run(['tag', web, 'stable', '--ledger', ledger, '--no-policy'])
    fingerprint = (await run(['key', 'fingerprint', release.pub])).match(/sha256:[a-f0-9]{64}/)![0]

    browser = await launch(await mkdtemp(join(dir, 'chromium-')), { username: USER, password: PASSWORD })
    browser.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    await served?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses the UI without credentials: 401 with the Basic challenge', async () => {
    const res = await fetch(`http://${served.host}/ui/`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="ferry"')
    // A browser without credentials to give gets no page (headless chromium cannot prompt for them).
    const anonymous = await launch(await mkdtemp(join(dir, 'anonymous-')))
    const page = await anonymous.newPage()
    await expect(page.goto(`http://${served.host}/ui/repo/team/web`)).rejects.toThrow(
      /ERR_INVALID_AUTH_CREDENTIALS/,
    )
    await anonymous.close()
  })

  it('repository → tag → image: platforms, the verified signature by fingerprint, the SBOM, the ledger', async () => {
    const page = await browser.newPage()
    const home = await page.goto(`http://${served.host}/`)
    expect(page.url()).toBe(`http://${served.host}/ui/`)
    const csp = (await home!.allHeaders())['content-security-policy']
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("default-src 'none'")
    await page.getByRole('searchbox').fill('web')
    await page.getByRole('button', { name: 'Filter' }).click()
    expect(await page.locator('#repositories tbody tr td:first-child').allTextContents()).toEqual([
      'team/web',
    ])
    await screenshot(page, 'repositories')

    await page.getByRole('link', { name: 'team/web' }).click()
    const row = page.locator('#tags tr[data-tag="v1.0.0"]')
    expect(await row.textContent()).toContain('linux/amd64, linux/arm64/v8')
    expect(await row.textContent()).toContain('prod')
    expect(await row.locator('.badge').textContent()).toBe('verified')
    await screenshot(page, 'tags')

    await page.getByRole('link', { name: 'stable', exact: true }).click()
    expect(await page.locator('h1').textContent()).toBe('team/web:stable')
    expect(await page.locator('#platforms').textContent()).toBe('linux/amd64, linux/arm64/v8')
    expect(await page.locator('#pinned').inputValue()).toBe(`${served.host}/team/web:stable@${signedDigest}`)
    expect(await page.locator('#verdict .badge').first().textContent()).toBe('verified')
    const signature = page.locator(`.node[data-kind="signature"]`).first()
    expect(await signature.locator('.signature-ok').textContent()).toContain(
      `verified with release.pub ${fingerprint}`,
    )
    const sbom = page.locator('.node[data-kind="sbom"]')
    expect(await sbom.locator('.sbom-packages').textContent()).toBe('5')
    expect(await sbom.locator('.licenses').textContent()).toContain('Apache-2.0: 2')
    // The SBOM's own signature, one level down.
    expect(await sbom.locator('..').locator('.node[data-kind="signature"] .signature-ok').count()).toBe(1)
    expect(await page.locator('#ledger ~ table').textContent()).toContain('tagged')
    await screenshot(page, 'image')
    const sbomHref = await sbom.locator('a', { hasText: 'Download' }).getAttribute('href')

    // A platform image: the hostile label is text on the page, no element.
    await page
      .getByRole('link', { name: /^sha256:/ })
      .first()
      .click()
    expect(await page.locator('#labels').count()).toBe(1)
    expect(await page.locator('main').textContent()).toContain(HOSTILE_LABEL)
    expect(await page.locator('main img').count()).toBe(0)
    expect(await page.title()).not.toBe('1')

    const download = await page.request.get(`http://${served.host}${sbomHref}`)
    expect(download.headers()['content-disposition']).toMatch(
      /^attachment; filename="sbom-[a-f0-9]{12}\.spdx\.json"$/,
    )
    expect((JSON.parse(await download.text()) as { packages: unknown[] }).packages).toHaveLength(5)
  })

  it('shows an unsigned image as failing the policy, and why', async () => {
    const page = await browser.newPage()
    await page.goto(`http://${served.host}/ui/repo/team/tool`)
    expect(await page.locator('#tags tr[data-tag="v2.0.0"] .badge').textContent()).toBe(
      'refused: signature, sbom',
    )
    await page.getByRole('link', { name: 'v2.0.0' }).click()
    expect(await page.locator('#platforms').textContent()).toBe('linux/amd64')
    expect(await page.locator('#verdict').textContent()).toMatch(/no signature verifies with release\.pub/)
    expect(await page.locator('.node').count()).toBe(0)
    expect(await page.locator('main').textContent()).toContain('Nothing attached.')
    await screenshot(page, 'unsigned')
    // Nothing the pages asked for was refused (a CSP violation is a console error too).
    expect(errors).toEqual([])
  })
})
