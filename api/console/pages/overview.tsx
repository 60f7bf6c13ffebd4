/** The overview: where the fleet stands, the integration's health, operations running, the audit trail. */
import type { FC } from 'hono/jsx';
import type { AuditRecord } from '../../../db/audit';
import type { OperationSummary, TimelineHour } from '../../../db/console-views';
import { Badge, BarChart, Notice, OperationProgress, Time, type ChartRow } from '../components';
import type { Answer, WeeklySchedule } from '../health';

export interface OverviewData {
  enabled: boolean;
  total: number;
  retired: number;
  byStatus: ChartRow[];
  byClientStatus: ChartRow[];
  byPolicyAction: ChartRow[];
  heartbeat: { lastAt: string | null; result: Record<string, unknown> | null };
  lastHour: TimelineHour;
  /** AZURE_MAX_CALLS_PER_SECOND, and the calls per report (an upload and its status poll). */
  budget: { maxCallsPerSecond: number; callsPerReport: number };
  backlog: Answer<{ taskQueue: string; backlog: number }>;
  weekly: Answer<WeeklySchedule>;
  lastWeeklyOperation: OperationSummary | null;
  running: OperationSummary[];
  audit: AuditRecord[];
}

const AUDIT_WORDS: Record<string, string> = {
  'device.sync': 'Re-reported a device',
  'fleet.sync': 'Started a bulk re-report',
  'settings.update': 'Changed the settings',
};

function auditDetail(r: AuditRecord): string {
  if (r.action === 'settings.update' && r.detail) {
    return Object.entries(r.detail)
      .map(([k, v]) =>
        k === 'enabled'
          ? `reporting ${v ? 'on' : 'off'}`
          : k === 'weeklyReportPaused'
            ? `weekly report ${v ? 'paused' : 'resumed'}`
            : `${k}: ${String(v)}`,
      )
      .join(', ');
  }
  if (r.action === 'fleet.sync') {
    const filter = (r.detail?.filter ?? {}) as Record<string, string>;
    const parts = Object.entries(filter).map(([k, v]) => `${k} = ${v}`);
    return parts.length > 0 ? `devices where ${parts.join(' and ')}` : 'every device';
  }
  return '';
}

const TokenHealth: FC<{ d: OverviewData }> = ({ d }) => {
  const result = d.heartbeat.result;
  if (d.lastHour.credentialFailures > 0) {
    return (
      <>
        <Badge tone="bad">Failing</Badge>{' '}
        {d.lastHour.credentialFailures === 1
          ? '1 report in the last hour was'
          : `${d.lastHour.credentialFailures} reports in the last hour were`}{' '}
        refused for the partner app's credentials or permissions. Check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, and the app's admin consent
        in Entra ID.
      </>
    );
  }
  if (result === null)
    return (
      <>
        <Badge tone="off">Not checked yet</Badge> No heartbeat was sent yet; the first one proves the token.
      </>
    );
  if (result.ok === true)
    return (
      <>
        <Badge tone="ok">Working</Badge> The last heartbeat got a token and Microsoft accepted it.
      </>
    );
  const error = (result.error ?? {}) as { type?: string; message?: string };
  return (
    <>
      <Badge tone="bad">Failing</Badge> The last heartbeat failed: {error.type ?? 'error'} {error.message ? `— ${error.message}` : ''}
    </>
  );
};

export const OverviewPage: FC<{ d: OverviewData }> = ({ d }) => (
  <>
    <h1>Overview</h1>
    {!d.enabled ? (
      <Notice tone="warn">
        Reporting to Microsoft is <strong>off</strong>: no device is reported and every compliance status reads empty.{' '}
        <a href="/console/settings">Turn it on in Settings</a>.
      </Notice>
    ) : null}
    {d.total === 0 ? (
      <Notice>
        No device was seen yet. Devices appear here once the MDM sends their first event to{' '}
        <code>POST /v1/devices/&#123;deviceId&#125;/events</code>.
      </Notice>
    ) : null}
    <p>
      <strong id="device-total" data-count={String(d.total)}>
        {String(d.total)}
      </strong>{' '}
      devices, of which {String(d.retired)} retired. <a href="/console/devices?complianceStatus=Failed">See every failing device</a>.
    </p>
    <div class="grid">
      <section class="card" aria-labelledby="by-status">
        <h2 id="by-status">Azure Device Compliance Status</h2>
        <BarChart id="chart-status" caption="Devices by compliance status" rows={d.byStatus} />
      </section>
      <section class="card" aria-labelledby="by-client">
        <h2 id="by-client">Azure Client Status Code</h2>
        <BarChart id="chart-client-status" caption="Devices by client status code" rows={d.byClientStatus} />
      </section>
      <section class="card" aria-labelledby="by-action">
        <h2 id="by-action">Policy action in force</h2>
        <BarChart id="chart-policy-action" caption="Devices by the most restrictive policy action" rows={d.byPolicyAction} />
      </section>
    </div>

    <section aria-labelledby="health">
      <h2 id="health">Integration health</h2>
      <dl class="details">
        <dt>Token (partner app)</dt>
        <dd id="health-token">
          <TokenHealth d={d} />
        </dd>
        <dt>Last heartbeat</dt>
        <dd>
          <Time iso={d.heartbeat.lastAt} empty="none yet (sent hourly)" />
        </dd>
        <dt>Last hour</dt>
        <dd id="health-last-hour">
          {String(d.lastHour.attempts)} report attempts;{' '}
          <Badge tone={d.lastHour.failed > 0 ? 'bad' : 'ok'}>{`${d.lastHour.failed} failed`}</Badge>{' '}
          <Badge tone={d.lastHour.throttled > 0 ? 'wait' : 'ok'}>{`${d.lastHour.throttled} throttled`}</Badge>
          {d.lastHour.failed > 0 ? (
            <>
              {' '}
              — <a href="/console/devices?complianceStatus=Failed">see the failing devices</a>
            </>
          ) : null}
        </dd>
        <dt>Microsoft call budget</dt>
        <dd id="health-budget">
          {`about ${((d.lastHour.attempts * d.budget.callsPerReport) / 3600).toFixed(2)} calls/s on average over the last hour, of ${d.budget.maxCallsPerSecond} calls/s allowed (AZURE_MAX_CALLS_PER_SECOND)`}
        </dd>
        <dt>Queue backlog</dt>
        <dd id="health-backlog">
          {d.backlog.ok ? (
            <>
              {String(d.backlog.value.backlog)} reports waiting on <code>{d.backlog.value.taskQueue}</code>
            </>
          ) : (
            <span class="muted">Temporal did not say ({d.backlog.reason}); check the Temporal UI.</span>
          )}
        </dd>
        <dt>Weekly report</dt>
        <dd id="health-weekly">
          {d.weekly.ok ? (
            d.weekly.value.exists ? (
              <>
                {d.weekly.value.paused ? <Badge tone="wait">Paused</Badge> : <Badge tone="ok">Scheduled</Badge>}{' '}
                {d.weekly.value.paused ? (
                  'no next run while paused'
                ) : (
                  <>
                    next run <Time iso={d.weekly.value.nextRuns[0] ?? null} empty="not planned" />
                  </>
                )}
                ; last run <Time iso={d.lastWeeklyOperation?.startedAt ?? d.weekly.value.lastRunAt} empty="never" />
              </>
            ) : (
              <span class="muted">No weekly Schedule yet: the worker creates it when it starts.</span>
            )
          ) : (
            <span class="muted">Temporal did not say ({d.weekly.reason}).</span>
          )}
        </dd>
      </dl>
    </section>

    <section aria-labelledby="running">
      <h2 id="running">Fleet operations in progress</h2>
      {d.running.length === 0 ? (
        <p class="muted">
          None running. Start a bulk re-report from <a href="/console/operations">Operations</a>.
        </p>
      ) : (
        <ul>
          {d.running.map((op) => (
            <li>
              <a href={`/console/operations/${encodeURIComponent(op.operationId)}`}>
                {op.kind} operation {op.operationId}
              </a>
              , started <Time iso={op.startedAt} />
              <OperationProgress total={op.devicesTotal} signalled={op.devicesSignalled} skipped={op.devicesSkipped} finished={false} />
            </li>
          ))}
        </ul>
      )}
    </section>

    <section aria-labelledby="audit">
      <h2 id="audit">Audit trail</h2>
      {d.audit.length === 0 ? (
        <p class="muted">
          Nothing yet: re-reports, bulk operations and settings changes, from here or with the admin API key, are listed here.
        </p>
      ) : (
        <div class="table-wrap">
          <table id="audit-trail" class="responsive">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">On</th>
              </tr>
            </thead>
            <tbody>
              {d.audit.map((r) => (
                <tr data-action={r.action}>
                  <td data-label="When">
                    <Time iso={r.at} />
                  </td>
                  <td data-label="Who">{r.actor}</td>
                  <td data-label="What">{AUDIT_WORDS[r.action] ?? r.action}</td>
                  <td data-label="On">
                    {r.action === 'device.sync' && r.target ? (
                      <a href={`/console/devices/${encodeURIComponent(r.target)}`}>{r.target}</a>
                    ) : r.action === 'fleet.sync' && r.target ? (
                      <a href={`/console/operations/${encodeURIComponent(r.target)}`}>{auditDetail(r)}</a>
                    ) : (
                      auditDetail(r)
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  </>
);
