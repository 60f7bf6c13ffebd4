/** Fleet operations: start a filtered bulk re-report (after a confirmation with its device count), follow each one. */
import type { FC } from 'hono/jsx';
import type { OperationSummary } from '../../../db/console-views';
import { CLIENT_STATUS_CODES, COMPLIANCE_STATUSES } from '../../../domain/constants';
import { CsrfField, Notice, OperationProgress, Time } from '../components';

export interface BulkFilter {
  complianceStatus?: string;
  clientStatusCode?: string;
}

export function describeFilter(f: BulkFilter | null): string {
  const parts: string[] = [];
  if (f?.complianceStatus) parts.push(`compliance status is ${f.complianceStatus}`);
  if (f?.clientStatusCode) parts.push(`client status code is ${f.clientStatusCode}`);
  return parts.length === 0 ? 'every device that is not retired' : `every device that is not retired and whose ${parts.join(' and ')}`;
}

const KIND_WORDS: Record<string, string> = {
  sync: 'Bulk re-report',
  weekly: 'Weekly report',
  enable: 'Reporting turned on',
  resync: 'Resync asked by Microsoft',
  reconcile: 'Drift reconciliation (Entra read back)',
};

export const OperationsPage: FC<{ operations: OperationSummary[] }> = ({ operations }) => (
  <>
    <h1>Operations</h1>
    <section aria-labelledby="start">
      <h2 id="start">Re-report devices in bulk</h2>
      <p>Choose which devices to report to Microsoft again. You will see how many devices it touches before anything starts.</p>
      <form class="filters" method="get" action="/console/operations/new">
        <label>
          Compliance status
          <select name="complianceStatus">
            <option value="">Any</option>
            {COMPLIANCE_STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Client status code
          <select name="clientStatusCode">
            <option value="">Any</option>
            {CLIENT_STATUS_CODES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="submit">Review</button>
      </form>
    </section>
    <section aria-labelledby="recent">
      <h2 id="recent">Recent operations</h2>
      {operations.length === 0 ? (
        <p class="muted">No fleet operation yet. Weekly reports, bulk re-reports and the switch turning reporting on appear here.</p>
      ) : (
        <ul>
          {operations.map((op) => (
            <li>
              <a href={`/console/operations/${encodeURIComponent(op.operationId)}`}>{KIND_WORDS[op.kind] ?? op.kind}</a>, started{' '}
              <Time iso={op.startedAt} />
              {op.kind === 'sync' ? <span class="muted"> — {describeFilter(op.filter)}</span> : null}
              <OperationProgress
                total={op.devicesTotal}
                signalled={op.devicesSignalled}
                skipped={op.devicesSkipped}
                finished={op.finishedAt !== null}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  </>
);

export const ConfirmBulkPage: FC<{ filter: BulkFilter; count: number; csrf: string }> = ({ filter, count, csrf }) => (
  <>
    <h1>Confirm the bulk re-report</h1>
    {count === 0 ? (
      <Notice tone="warn">
        No device matches: {describeFilter(filter)}. <a href="/console/operations">Choose other filters</a>.
      </Notice>
    ) : (
      <>
        <p id="bulk-count" data-count={String(count)}>
          This reports <strong>{String(count)} devices</strong> to Microsoft again: {describeFilter(filter)}. Reports of changed devices
          still go first; the re-reports follow at the sweep's pace.
        </p>
        <form method="post" action="/console/operations" class="actions">
          <CsrfField token={csrf} />
          {filter.complianceStatus ? <input type="hidden" name="complianceStatus" value={filter.complianceStatus} /> : null}
          {filter.clientStatusCode ? <input type="hidden" name="clientStatusCode" value={filter.clientStatusCode} /> : null}
          <button type="submit">{`Re-report ${count} devices`}</button>
          <a href="/console/operations">Cancel</a>
        </form>
      </>
    )}
  </>
);

export const OperationPage: FC<{
  op: {
    operationId: string;
    kind: string;
    startedAt: string;
    finishedAt: string | null;
    devicesTotal: number | null;
    devicesSignalled: number;
    devicesSkipped: number;
  };
}> = ({ op }) => (
  <>
    <p>
      <a href="/console/operations">← All operations</a>
    </p>
    <h1>{KIND_WORDS[op.kind] ?? op.kind}</h1>
    <p>
      Operation <code>{op.operationId}</code>, started <Time iso={op.startedAt} />
      {op.finishedAt ? (
        <>
          , finished <Time iso={op.finishedAt} />
        </>
      ) : null}
      .
    </p>
    <div
      id="operation-progress"
      data-finished={op.finishedAt ? 'true' : 'false'}
      data-total={op.devicesTotal === null ? '' : String(op.devicesTotal)}
      data-done={String(op.devicesSignalled + op.devicesSkipped)}
    >
      <OperationProgress
        total={op.devicesTotal}
        signalled={op.devicesSignalled}
        skipped={op.devicesSkipped}
        finished={op.finishedAt !== null}
      />
    </div>
    {op.finishedAt === null ? <p class="muted">This page reloads every 2 seconds until the operation ends.</p> : null}
    {op.devicesSkipped > 0 ? (
      <Notice tone="warn">{`${op.devicesSkipped} devices were skipped: their workflow is not running. A registration event from the MDM starts it again.`}</Notice>
    ) : null}
  </>
);
