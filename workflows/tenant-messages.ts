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

export interface TenantOnboardingResult {
  tenantId: string;
  /** False when the tenant was not registered, or left onboarding meanwhile (an offboarding). */
  activated: boolean;
  /** The `enable` sweep that reports every device again after a consent came back, if any. */
  catchUpOperationId: string | null;
}

/** Started by `DELETE /v1/tenants/{tenantId}`: the tenant is `offboarding` until its data is gone. */
export interface TenantOffboardingInput {
  tenantId: string;
  /** Report every device `notManaged` to Microsoft before the data is removed. */
  reportNotManaged: boolean;
  /** The operation the API answered with (`GET /v1/operations/{id}` of the operator). */
  operationId: string;
  /** Devices asked to report `notManaged` per second; default: as fast as signals go. */
  devicesPerSecond?: number;
  /** How long to wait for Microsoft to confirm them before the data is removed anyway; default 30 minutes. */
  notManagedWaitMs?: number;
}

export interface TenantOffboardingResult {
  tenantId: string;
  operationId: string;
  /** Devices Microsoft confirmed `notManaged` (null: not asked). */
  devicesReported: number | null;
  devicesRemoved: number;
  /** False when Intune could not be told (e.g. the tenant's consent is gone). */
  deprovisioned: boolean;
  workflowsTerminated: number;
}
