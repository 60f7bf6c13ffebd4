/**
 * The audit trail (migration 003_audit_log): who did what from the console or with the admin API key.
 * The admin routes write one row after each change they made (the console's actions go through them);
 * the console's overview reads them.
 */
import type { Db } from './index';

export type AuditAction = 'device.sync' | 'fleet.sync' | 'settings.update';

export interface AuditEntry {
  tenantId: string;
  actor: string;
  action: AuditAction;
  /** What the action was about: a device id, an operation id; null for the tenant's settings. */
  target: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: string;
}

/** What the console passes as the request environment of its calls to the admin routes. */
export interface AuditActorEnv {
  auditActor: string;
}

/**
 * The actor of a request to an admin route: the console's session when it made the call, else the
 * operator's key when the operator acted for the tenant, else the tenant's admin API key.
 */
export function auditActor(env: unknown, role?: string): string {
  const actor = (env as Partial<AuditActorEnv> | undefined)?.auditActor;
  if (typeof actor === 'string' && actor !== '') return actor;
  return role === 'operator' ? 'operator API key' : 'admin API key';
}

export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db('audit_log').insert({
    tenant_id: entry.tenantId,
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    detail: entry.detail === null ? null : JSON.stringify(entry.detail),
  });
}

/** The tenant's newest audit rows, newest first. */
export async function listAudit(db: Db, tenantId: string, limit: number): Promise<AuditRecord[]> {
  const rows = await db('audit_log')
    .where({ tenant_id: tenantId })
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit);
  return rows.map(
    (r: {
      id: string;
      tenant_id: string;
      at: Date;
      actor: string;
      action: AuditAction;
      target: string | null;
      detail: Record<string, unknown> | null;
    }) => ({
      id: Number(r.id),
      tenantId: r.tenant_id,
      at: new Date(r.at).toISOString(),
      actor: r.actor,
      action: r.action,
      target: r.target,
      detail: r.detail,
    }),
  );
}
