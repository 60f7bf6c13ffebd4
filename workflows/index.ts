// The worker's workflowsPath: every workflow type the task queue runs.
export { deviceComplianceWorkflow } from './device';
