/**
 * Docker Hub's names. References say `docker.io`; docker's normalisation (distribution/reference
 * `normalize.go`) reads the legacy index name `index.docker.io` as the same; the API answers at
 * `registry-1.docker.io`, a name people copy from logs and proxies.
 */
export const DOCKER_HUB = 'docker.io'
export const LEGACY_DOCKER_HUB = 'index.docker.io'
export const DOCKER_HUB_API = 'registry-1.docker.io'

/** Where Docker Hub keeps official images: `nginx` is `docker.io/library/nginx`. */
export const OFFICIAL_PREFIX = 'library/'

const NAMES: readonly string[] = [DOCKER_HUB, LEGACY_DOCKER_HUB, DOCKER_HUB_API]

/** Any of Docker Hub's names, in any case. */
export const isDockerHub = (host: string): boolean => NAMES.includes(host.toLowerCase())
