import {
  LAYOUT_PREFIX,
  type Location,
  parseLocation,
  parseRegistryLocation,
  type RegistryHost,
} from '../src/reference/index.js'

/**
 * `host`: a registry argument, `HOST[:PORT]` or `https://HOST[:PORT]` (catalog also takes `oci:DIR`);
 * `reference`: an image or repository anywhere (src/reference/location.ts).
 */
export type RegistryArgKind = 'host' | 'reference'

export type ParsedArg = Location | (RegistryHost & { kind: 'host' })

/** The argument parsed by the location grammar, once: the command and --creds both use this value. */
export function parseRegistryArg(value: string, kind: RegistryArgKind): ParsedArg {
  if (kind === 'reference' || value.startsWith(LAYOUT_PREFIX)) return parseLocation(value)
  return { kind: 'host', ...parseRegistryLocation(value) }
}

/** The registry an argument names (what --creds applies to); undefined for a layout or a bundle. */
export function registryOfArg(arg: ParsedArg): string | undefined {
  return arg.kind === 'registry' || arg.kind === 'host' ? arg.registry : undefined
}
