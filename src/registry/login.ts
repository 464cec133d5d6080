import { FerryError, isFerryError } from '../errors.js'
import { parseRegistryLocation, type RegistryHost } from '../reference/index.js'
import type { RegistryClient } from './client.js'
import { type CredentialFiles, eraseCredential, storeCredential } from './credentials.js'

/**
 * Checks the credentials against the registry (`GET /v2/` through Basic or the token service, over
 * `client`'s transport) and only then records them, in the credential helper docker would use or in the
 * file: `authFile`, else $REGISTRY_AUTH_FILE, else docker's config.json.
 */
export async function login(
  client: RegistryClient,
  host: string | RegistryHost,
  username: string,
  password: string,
  opts: CredentialFiles = {},
) {
  const where = typeof host === 'string' ? parseRegistryLocation(host) : host
  const { registry } = where
  if (!username) throw new FerryError('USAGE', `login to ${registry}: a user name is required`)
  try {
    await client.ping(where, { credential: { username, password } })
  } catch (err) {
    if (isFerryError(err, 'UNAUTHORIZED') || isFerryError(err, 'DENIED')) {
      throw new FerryError(err.code, `login to ${registry} as ${username} failed: ${err.message}`)
    }
    throw err
  }
  await storeCredential(registry, username, password, opts)
}

/** Removes the stored credentials; false when there were none. */
export async function logout(host: string | RegistryHost, opts: CredentialFiles = {}): Promise<boolean> {
  return eraseCredential(
    typeof host === 'string' ? parseRegistryLocation(host).registry : host.registry,
    opts,
  )
}
