// The processor's public surface for the operator, as a package's entry point: the configuration
// the operator writes for it, the Lease format the operator reads back for the job's status, the
// failure reasons it recognizes there, and the small utilities both sides run on. The operator
// imports processor code from here only (eslint.config.js enforces it), so everything not named
// here is the processor's to change.
export {
  aggregationSchema,
  endpointFields,
  headerNameSchema,
  includePublicRootsSchema,
  leaseTimingFields,
  leaseTimingRule,
  processingFields,
  startPositionSchema,
  streamIdSchema,
  tlsServerNameSchema,
  withEndpointRules,
  type EndpointTlsConfig,
  type ProcessorConfigInput,
} from "./config/schema.ts";
export { describeIssues } from "./config/load.ts";
export { SHARD_END } from "./checkpoint/store.ts";
export { toHeartbeat, type Heartbeat } from "./leases/heartbeat-lease.ts";
export { toShardLease, type ShardLease } from "./leases/shard-lease.ts";
export { loadKubeConfig } from "./leases/kube-config.ts";
export { isTlsFailureReason } from "./http/tls-failure.ts";
export { createLogger } from "./logger.ts";
export { apiErrorMessage, apiStatusCode, unlessNotFound } from "./util/api-status.ts";
export { backoffCeiling } from "./util/backoff.ts";
export { pause } from "./util/pause.ts";
