// The worker's workflowsPath: every workflow type the task queue runs.
export { deviceComplianceWorkflow, deviceComplianceWorkflowV2 } from './device';
export { fleetSweepWorkflow } from './fleet-sweep';
export { tenantHeartbeatWorkflow } from './heartbeat';
export { tenantOffboardingWorkflow, tenantOnboardingWorkflow } from './tenant-lifecycle';
