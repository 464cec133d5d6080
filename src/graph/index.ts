// The graph of manifests: index children, referrers and cosign tags, read once through a cached reader.
export {
  type Attached,
  type AttachedNode,
  type DiscoverOptions,
  discoverAttached,
  flattenAttached,
  isFound,
  type MissingAttachment,
} from './attached.js'
export { type Closure, type ClosureOptions, closure } from './closure.js'
export {
  type ImageGraph,
  isForeign,
  type Missing,
  type OnMissing,
  type Root,
  type Successors,
  type WalkOptions,
  walkGraph,
} from './manifests.js'
export {
  DEFAULT_GRAPH_CONCURRENCY,
  GraphReader,
  type GraphReaderOptions,
  ManifestCache,
  readerOf,
} from './reader.js'
