// The graph of manifests: index children, referrers and cosign tags, read once through a cached reader.
export { type AttachedNode, type DiscoverOptions, discoverAttached, flattenAttached } from './attached.js'
export { type Closure, type ClosureOptions, closure } from './closure.js'
export { type ImageGraph, isForeign, type WalkOptions, walkGraph } from './manifests.js'
export { DEFAULT_GRAPH_CONCURRENCY, GraphReader, type GraphReaderOptions, readerOf } from './reader.js'
