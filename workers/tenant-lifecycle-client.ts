/**
 * Starting a tenant's onboarding (after its administrator's consent) and offboarding (the operator's
 * DELETE), for the API and the tests. One workflow id per tenant and kind; each run carries the
 * `TenantId` search attribute.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import {
  TENANT_OFFBOARDING_WORKFLOW_TYPE,
  TENANT_ONBOARDING_WORKFLOW_TYPE,
  tenantOffboardingWorkflowId,
  tenantOnboardingWorkflowId,
  type TenantOffboardingInput,
  type TenantOnboardingInput,
} from '../workflows/tenant-messages';
import { TenantIdKey } from '../workflows/search-attributes';

/**
 * Starts the tenant's onboarding; a consent granted again later starts a new run (an onboarding
 * still running is used as it is). Returns the run's workflow id.
 */
export async function startTenantOnboarding(temporal: Client, input: TenantOnboardingInput, taskQueue: string): Promise<string> {
  const workflowId = tenantOnboardingWorkflowId(input.tenantId);
  await temporal.workflow.start(TENANT_ONBOARDING_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    typedSearchAttributes: [{ key: TenantIdKey, value: input.tenantId }],
  });
  return workflowId;
}

/** Starts the tenant's offboarding once; `alreadyStarted` when one runs or ran under this id. */
export async function startTenantOffboarding(
  temporal: Client,
  input: TenantOffboardingInput,
  taskQueue: string,
): Promise<{ workflowId: string; alreadyStarted: boolean }> {
  const workflowId = tenantOffboardingWorkflowId(input.tenantId);
  try {
    await temporal.workflow.start(TENANT_OFFBOARDING_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      // A tenant registered again after an offboarding can be offboarded again.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: [{ key: TenantIdKey, value: input.tenantId }],
    });
    return { workflowId, alreadyStarted: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return { workflowId, alreadyStarted: true };
  }
}
