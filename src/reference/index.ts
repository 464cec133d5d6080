export * from './prefix.js'
export * from './reference.js'
