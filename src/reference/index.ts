export * from './canonical.js'
export { DOCKER_HUB_API, isDockerHub, LEGACY_DOCKER_HUB } from './docker-hub.js'
export * from './prefix.js'
export * from './reference.js'
