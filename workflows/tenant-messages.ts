/**
 * Ids and inputs of the tenant lifecycle workflows (onboarding after admin consent, offboarding), shared
 * by the API, which starts them, and the worker, which runs them. See docs/architecture.md, "Tenants".
 */
export const TENANT_ONBOARDING_WORKFLOW_TYPE = 'tenantOnboardingWorkflow';
export const TENANT_OFFBOARDING_WORKFLOW_TYPE = 'tenantOffboardingWorkflow';

export function tenantOnboardingWorkflowId(tenantId: string): string {
  return `tenant-onboarding:${tenantId}`;
}

export function tenantOffboardingWorkflowId(tenantId: string): string {
  return `tenant-offboarding:${tenantId}`;
}

/** Started once the tenant's admin consented: activates it at Intune, creates its Schedules, makes it `active`. */
export interface TenantOnboardingInput {
  tenantId: string;
}

/** Started by `DELETE /v1/tenants/{tenantId}`: the tenant is `offboarding` until its data is gone. */
export interface TenantOffboardingInput {
  tenantId: string;
  /** Report every device `notManaged` to Microsoft before the data is removed. */
  reportNotManaged: boolean;
  /** The operation the API answered with (`GET /v1/operations/{id}` of the operator). */
  operationId: string;
}
