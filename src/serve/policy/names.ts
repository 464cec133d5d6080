import { FerryError } from '../../errors.js'
import { DOMAIN_RE } from '../../reference/grammar.js'
import { canonicalRegistry } from '../../reference/index.js'

/**
 * The names clients reach this registry by (`registry.intra`, `registry.intra:5443`): what a policy's
 * repository globs are matched against, `NAME/REPO` in canonical form, since the globs are written with
 * the registry host (`registry.intra/acme/**`) and a request carries only `REPO`. The Host header is no
 * help: a client picks it, and a rule must not depend on how the client spelled the registry.
 */
export function parseServeName(text: string): string {
  if (!DOMAIN_RE.test(text)) {
    throw new FerryError(
      'USAGE',
      `invalid --name "${text.slice(0, 200)}": expected HOST[:PORT] as in an image reference (registry.intra, registry.intra:5443)`,
    )
  }
  return text
}

/** Without --name: the address it listens on as clients write it, and `localhost:PORT`; each once. */
export function defaultServeNames(host: string, port: number): string[] {
  const names = [host, `localhost:${port}`]
  return names.filter((n, i) => names.findIndex((m) => canonicalRegistry(m) === canonicalRegistry(n)) === i)
}
