export { checkJenkinsTargets, type JenkinsTargetCheck } from './jenkins-check';
export { executePlan, type ActionPorts, type ExecutionResult } from './execute';
export { sdkIamReader, type IamReader, type IamUserRef } from './iam-reader';
export { parseIsoDate, takeInventory, type InventoryOptions, type InventoryPorts } from './inventory';
export { notifySummary, sendNotifications, type NotifyPorts, type NotifyTargets } from './notify';
export { dueDate, isDue, planScan, rollbackNote, type PlanOptions } from './plan';
export { collectInventory, readSecretStates, runScan, type ScanOptions, type ScanReportInput } from './run';
export { ScanFailedError, scanFailed, summaryText, summaryTitle } from './summary';
export type * from './types';
export { bySeverity, diagnoseKey, diagnoseKeys, observationOf, type KeyProblem } from './problems';
export {
  checksDue,
  nextChecksState,
  notifiedKey,
  scanChecks,
  ssmChecksStateStore,
  type ChecksState,
  type ChecksStateStore,
  type ScanChecks,
} from './checks';
export {
  checkpointValue,
  parseCheckpoint,
  resumeOrder,
  ssmCheckpointStore,
  type CheckpointStore,
  type ScanCheckpoint,
} from './checkpoint';
export { rateLimit, TokenBucket, type RateLimiter } from './rate';
