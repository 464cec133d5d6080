import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { linkTarget } from '../util/files.js'
import { helperErase, helperGet, helperStore } from './cred-helper.js'
import { credentialKey, hostOfKey, isDockerHub } from './hosts.js'

/** What config.json (or a credential helper) holds for one registry. */
export interface Credential {
  username?: string
  password?: string
  /** An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token realm. */
  identityToken?: string
}

const authEntrySchema = z.looseObject({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
})

const configSchema = z.looseObject({
  auths: z.record(z.string(), authEntrySchema).optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
  credsStore: z.string().optional(),
})
type DockerConfig = z.infer<typeof configSchema>

export function dockerConfigDir(dir?: string): string {
  return dir ?? process.env.DOCKER_CONFIG ?? join(homedir(), '.docker')
}

/** Where credentials are looked up, besides the docker config. */
export interface CredentialFiles {
  /** Where config.json lives. Default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string
  /** `--authfile`: searched first, and the file `login` writes; it must be readable when consulted. */
  authFile?: string
  /** Given on the command line, by registry: before every file. */
  credentials?: Record<string, Credential>
}

interface AuthFile {
  file: string
  /** A missing file is an error (the user named it), not an empty one. */
  required: boolean
}

/**
 * The files searched, in order: --authfile, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json
 * (podman's and skopeo's login), then docker's config.json. The first that holds the registry wins.
 */
export function authFileChain(opts: CredentialFiles = {}, env = process.env): AuthFile[] {
  const out: AuthFile[] = []
  const add = (file: string | undefined, required: boolean) => {
    if (file && !out.some((f) => resolve(f.file) === resolve(file))) out.push({ file, required })
  }
  add(opts.authFile, true)
  add(env.REGISTRY_AUTH_FILE, false)
  if (env.XDG_RUNTIME_DIR) add(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'), false)
  add(join(dockerConfigDir(opts.dockerConfigDir), 'config.json'), false)
  return out
}

/** The file `login` writes and `logout` edits: --authfile, else $REGISTRY_AUTH_FILE (as podman), else docker's. */
export function loginFile(opts: CredentialFiles = {}, env = process.env): string {
  return (
    opts.authFile ?? (env.REGISTRY_AUTH_FILE || join(dockerConfigDir(opts.dockerConfigDir), 'config.json'))
  )
}

/**
 * Whether an `auths` key names this registry (and repository). docker's keys name a host, with or
 * without a scheme and `/v1/`, and match by host. podman's may name `HOST/NAMESPACE[/REPO]`: those
 * match that repository and the ones below it, and the longest wins (see `bestEntry`).
 */
function keyMatches(key: string, registry: string, repository?: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(key) && key.includes('/')) {
    const path = key.toLowerCase().replace(/\/+$/, '')
    const slash = path.indexOf('/')
    if (!hostMatches(path.slice(0, slash), registry) || repository === undefined) return false
    const prefix = path.slice(slash + 1)
    return repository === prefix || repository.startsWith(`${prefix}/`)
  }
  return hostMatches(hostOfKey(key), registry)
}

function hostMatches(host: string, registry: string): boolean {
  return isDockerHub(registry) ? isDockerHub(host) : host === registry.toLowerCase()
}

async function readConfig(
  file: string,
  required = false,
): Promise<{ raw: Record<string, unknown>; config: DockerConfig }> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return { raw: {}, config: {} }
    throw new FerryError('CREDENTIALS', `${file}: cannot read (${(err as NodeJS.ErrnoException).code})`)
  }
  let raw: unknown
  try {
    raw = text.trim() ? JSON.parse(text) : {}
  } catch {
    throw new FerryError('CREDENTIALS', `${file}: not valid JSON`)
  }
  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new FerryError('CREDENTIALS', `${file}: invalid auth file at ${issue?.path.join('.') || '(root)'}`)
  }
  return { raw: raw as Record<string, unknown>, config: parsed.data }
}

/** credHelpers[host] wins over credsStore, as in docker's `getConfiguredCredentialStore`. */
function helperFor(config: DockerConfig, registry: string): string | undefined {
  const helpers = Object.entries(config.credHelpers ?? {})
  const own =
    helpers.find(([k]) => k === credentialKey(registry)) ?? helpers.find(([k]) => keyMatches(k, registry))
  return own?.[1] || config.credsStore || undefined
}

function fromEntry(entry: z.infer<typeof authEntrySchema>): Credential | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
  }
  if (entry.username && entry.password !== undefined)
    return { username: entry.username, password: entry.password }
  return undefined
}

/** The most specific usable entry: the longest `HOST/PATH` key, else the registry's own key, else its host. */
function bestEntry(config: DockerConfig, registry: string, repository?: string): Credential | undefined {
  const usable = Object.entries(config.auths ?? {})
    .filter(([k]) => keyMatches(k, registry, repository))
    .map(([k, e]) => ({ k, cred: fromEntry(e) }))
    .filter((e): e is { k: string; cred: Credential } => e.cred !== undefined)
  const rank = (k: string) =>
    k.includes('/') && !k.includes('://') ? k.length : k === credentialKey(registry) ? 0 : -1
  usable.sort((a, b) => rank(b.k) - rank(a.k))
  return usable[0]?.cred
}

async function lookupIn(
  config: DockerConfig,
  registry: string,
  repository?: string,
): Promise<Credential | undefined> {
  const helper = helperFor(config, registry)
  if (helper) {
    const found = await helperGet(helper, credentialKey(registry))
    if (found) return found
  }
  return bestEntry(config, registry, repository)
}

/**
 * The credentials for a registry (and the repository, for podman's per-repository keys), or
 * undefined for anonymous access: the command line's, else the first file of `authFileChain` that
 * holds the registry.
 */
export async function lookupCredential(
  registry: string,
  opts: CredentialFiles = {},
  repository?: string,
): Promise<Credential | undefined> {
  const given = Object.entries(opts.credentials ?? {}).find(
    ([k]) => credentialKey(k) === credentialKey(registry),
  )
  if (given) return given[1]
  for (const { file, required } of authFileChain(opts)) {
    const { config } = await readConfig(file, required)
    const found = await lookupIn(config, registry, repository)
    if (found) return found
  }
  return undefined
}

/**
 * temp + rename in the same directory, mode 0600: readers never see half a file, others never see it at
 * all. A symbolic link (a config kept in a dotfiles repository) stays one: its target is replaced.
 */
async function writeConfig(file: string, raw: Record<string, unknown>): Promise<void> {
  let tmp: string | undefined
  try {
    const target = await linkTarget(file)
    const dir = dirname(target)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`)
    await writeFile(tmp, `${JSON.stringify(raw, null, '\t')}\n`, { mode: 0o600 })
    await chmod(tmp, 0o600)
    await rename(tmp, target)
  } catch (err) {
    if (tmp) await rm(tmp, { force: true })
    throw new FerryError('CREDENTIALS', `${file}: cannot write (${(err as NodeJS.ErrnoException).code})`)
  }
}

export async function storeCredential(
  registry: string,
  username: string,
  password: string,
  opts: CredentialFiles = {},
) {
  const file = loginFile(opts)
  const { raw, config } = await readConfig(file)
  const key = credentialKey(registry)
  const helper = helperFor(config, registry)
  const auths = { ...(config.auths ?? {}) }
  for (const k of Object.keys(auths)) if (keyMatches(k, registry)) delete auths[k]
  if (helper) {
    await helperStore(helper, key, username, password)
    // docker records the login with an empty entry when the secret lives in a helper.
    auths[key] = {}
  } else {
    auths[key] = { auth: Buffer.from(`${username}:${password}`).toString('base64') }
  }
  await writeConfig(file, { ...raw, auths })
}

/** False when there was nothing stored for the registry. */
export async function eraseCredential(registry: string, opts: CredentialFiles = {}): Promise<boolean> {
  const file = loginFile(opts)
  const { raw, config } = await readConfig(file)
  const helper = helperFor(config, registry)
  const erasedInHelper = helper ? await helperErase(helper, credentialKey(registry)) : false
  const auths = { ...(config.auths ?? {}) }
  const keys = Object.keys(auths).filter((k) => keyMatches(k, registry))
  for (const k of keys) delete auths[k]
  if (keys.length > 0) await writeConfig(file, { ...raw, auths })
  return erasedInHelper || keys.length > 0
}
