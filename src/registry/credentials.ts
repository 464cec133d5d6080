import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { FerryError } from '../errors.js'
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

/** docker's file store compares keys by host, so `https://HOST/` and `HOST` are one registry. */
function keyMatches(key: string, registry: string): boolean {
  const host = hostOfKey(key)
  return isDockerHub(registry) ? isDockerHub(host) : host === registry.toLowerCase()
}

async function readConfig(dir: string): Promise<{ raw: Record<string, unknown>; config: DockerConfig }> {
  const file = join(dir, 'config.json')
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { raw: {}, config: {} }
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
    throw new FerryError(
      'CREDENTIALS',
      `${file}: invalid docker config at ${issue?.path.join('.') || '(root)'}`,
    )
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

/** The credentials for a registry, or undefined for anonymous access. */
export async function lookupCredential(registry: string, dir?: string): Promise<Credential | undefined> {
  const { config } = await readConfig(dockerConfigDir(dir))
  const helper = helperFor(config, registry)
  if (helper) {
    const found = await helperGet(helper, credentialKey(registry))
    if (found) return found
  }
  const auths = Object.entries(config.auths ?? {})
  const exact = auths.find(([k]) => k === credentialKey(registry))
  const entry = exact ?? auths.find(([k]) => keyMatches(k, registry))
  return entry ? fromEntry(entry[1]) : undefined
}

/** temp + rename in the same directory, mode 0600: readers never see half a file, others never see it at all. */
async function writeConfig(dir: string, raw: Record<string, unknown>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'config.json')
  const tmp = join(dir, `.config.json.${process.pid}.${randomBytes(4).toString('hex')}`)
  try {
    await writeFile(tmp, `${JSON.stringify(raw, null, '\t')}\n`, { mode: 0o600 })
    await chmod(tmp, 0o600)
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw new FerryError('CREDENTIALS', `${file}: cannot write (${(err as NodeJS.ErrnoException).code})`)
  }
}

export async function storeCredential(registry: string, username: string, password: string, dir?: string) {
  const configDir = dockerConfigDir(dir)
  const { raw, config } = await readConfig(configDir)
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
  await writeConfig(configDir, { ...raw, auths })
}

/** False when there was nothing stored for the registry. */
export async function eraseCredential(registry: string, dir?: string): Promise<boolean> {
  const configDir = dockerConfigDir(dir)
  const { raw, config } = await readConfig(configDir)
  const helper = helperFor(config, registry)
  const erasedInHelper = helper ? await helperErase(helper, credentialKey(registry)) : false
  const auths = { ...(config.auths ?? {}) }
  const keys = Object.keys(auths).filter((k) => keyMatches(k, registry))
  for (const k of keys) delete auths[k]
  if (keys.length > 0) await writeConfig(configDir, { ...raw, auths })
  return erasedInHelper || keys.length > 0
}
