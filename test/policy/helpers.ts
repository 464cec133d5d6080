import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeKeys, type TestKeys } from '../supply/helpers.js'

/** The governance issue's example policy, word for word. */
export const EXAMPLE_POLICY = join(import.meta.dirname, 'ferry.policy.yaml')

export const OCI_LABELS = {
  'org.opencontainers.image.source': 'https://git.intra/acme/shop',
  'org.opencontainers.image.revision': '0b1c2d3e4f5a',
  'org.opencontainers.image.created': '2026-11-30T12:00:00Z',
}

/** The example policy in `dir`, next to the release.pub it names (a fresh key pair). */
export async function examplePolicyIn(
  dir: string,
  keys: TestKeys = makeKeys(),
): Promise<{ path: string; keys: TestKeys }> {
  const path = join(dir, 'ferry.policy.yaml')
  await copyFile(EXAMPLE_POLICY, path)
  await writeFile(join(dir, 'release.pub'), keys.publicKeyPem)
  return { path, keys }
}
