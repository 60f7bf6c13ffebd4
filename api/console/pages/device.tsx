/** One device: the seed's Azure Device Details, what was reported and why it failed, its timeline, Re-report now. */
import type { FC } from 'hono/jsx';
import type { z } from '@hono/zod-openapi';
import { CLIENT_STATUS_DESCRIPTIONS } from '../../../domain/client-status';
import { isClientStatusCode } from '../../../domain/constants';
import type { ReportListSchema } from '../../schemas';
import { Badge, ClientStatusBadge, ComplianceBadge, CsrfField, Notice, Time, complianceTone } from '../components';
import type { DeviceDetails } from './devices';

export type ReportItem = z.infer<typeof ReportListSchema>['items'][number];

const REPORTED_WORDS: Record<string, string> = { compliant: 'Compliant', notCompliant: 'Not compliant' };
const MANAGEMENT_WORDS: Record<string, string> = { managed: 'Managed', notManaged: 'Not managed (data removed from Azure)' };

/** A raw API value as a data attribute, so what is shown can be checked against the API exactly. */
const raw = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

export interface DevicePageProps {
  d: DeviceDetails;
  reports: ReportItem[];
  enabled: boolean;
  csrf: string;
  temporalUiUrl: string;
  notice?: { tone: 'ok' | 'error'; text: string } | undefined;
}

export const DevicePage: FC<DevicePageProps> = ({ d, reports, enabled, csrf, temporalUiUrl, notice }) => {
  const e = d.lastError;
  return (
    <>
      <p>
        <a href="/console/devices">← All devices</a>
      </p>
      <h1>
        Device <code>{d.deviceId}</code>
      </h1>
      {notice ? <Notice tone={notice.tone}>{notice.text}</Notice> : null}
      <div class="actions">
        {d.retiredAt === null ? (
          <form method="post" action={`/console/devices/${encodeURIComponent(d.deviceId)}/sync`}>
            <CsrfField token={csrf} />
            <button type="submit">Re-report now</button>
          </form>
        ) : (
          <span class="muted">Retired devices are not reported again.</span>
        )}
        <a href={temporalUiUrl} rel="noopener">
          This device's run in the Temporal UI
        </a>
      </div>

      <section aria-labelledby="azure-details">
        <h2 id="azure-details">Azure Device Details</h2>
        <dl class="details" id="azure-device-details">
          <dt>Azure Device Identifier</dt>
          <dd data-field="azureDeviceIdentifier" data-value={raw(d.azureDeviceIdentifier)}>
            {d.azureDeviceIdentifier ?? <span class="muted">(blank: the device could not retrieve its Azure device ID)</span>}
          </dd>
          <dt>Azure Device Compliance Status</dt>
          <dd data-field="azureDeviceComplianceStatus" data-value={raw(d.azureDeviceComplianceStatus)}>
            {d.azureDeviceComplianceStatus ? (
              <Badge tone={complianceTone(d.azureDeviceComplianceStatus)}>{d.azureDeviceComplianceStatus}</Badge>
            ) : enabled ? (
              ''
            ) : (
              <ComplianceBadge status={null} enabled={false} />
            )}
          </dd>
          <dt>Azure Client Status Code</dt>
          <dd data-field="azureClientStatusCode" data-value={raw(d.azureClientStatusCode)}>
            <ClientStatusBadge code={d.azureClientStatusCode} />
            {d.azureClientStatusCode && isClientStatusCode(d.azureClientStatusCode) ? (
              <> {CLIENT_STATUS_DESCRIPTIONS[d.azureClientStatusCode]}</>
            ) : null}
          </dd>
          <dt>Azure Device Compliance Report Time</dt>
          <dd data-field="azureDeviceComplianceReportTime" data-value={raw(d.azureDeviceComplianceReportTime)}>
            {d.azureDeviceComplianceReportTime ? (
              <Time iso={d.azureDeviceComplianceReportTime} />
            ) : (
              <span class="muted">(blank: no report accepted by Microsoft for the current state)</span>
            )}
          </dd>
        </dl>
      </section>

      <section aria-labelledby="last-error">
        <h2 id="last-error">Last error</h2>
        {e === null ? (
          <p data-field="lastError" data-value="">
            <Badge tone="ok">None</Badge> The last report went through, or nothing failed yet.
          </p>
        ) : (
          <div data-field="lastError" data-value={raw(e)}>
            <p>
              <Badge tone="bad">{e.code}</Badge> {e.message}
            </p>
            <p>
              <strong>Can the device user fix it?</strong>{' '}
              {e.userCanMitigate ? <Badge tone="wait">Yes, the user can</Badge> : <Badge tone="off">No, an admin must act</Badge>}
            </p>
            <p>
              <strong>What to do:</strong> {e.remediation}
            </p>
          </div>
        )}
      </section>

      <section aria-labelledby="policy">
        <h2 id="policy">Policy and what was reported</h2>
        <dl class="details">
          <dt>Policy action in force</dt>
          <dd data-field="policyAction" data-value={raw(d.policyAction)}>
            {d.policyAction ?? 'None (no policy violated)'}
          </dd>
          {d.graceUntil ? (
            <>
              <dt>Grace period</dt>
              <dd data-field="graceUntil" data-value={raw(d.graceUntil)}>
                <Badge tone="wait">{d.gracePendingAction ?? 'Action'} pending</Badge> reported at <Time iso={d.graceUntil} /> if it still
                holds; until then Microsoft keeps what it was told before.
              </dd>
            </>
          ) : null}
          <dt>Reported compliance</dt>
          <dd data-field="reportedCompliance" data-value={raw(d.reportedCompliance)}>
            {d.reportedCompliance ? (REPORTED_WORDS[d.reportedCompliance] ?? d.reportedCompliance) : 'Nothing reported yet'}
          </dd>
          <dt>Reported management state</dt>
          <dd data-field="managementState" data-value={raw(d.managementState)}>
            {d.managementState ? (MANAGEMENT_WORDS[d.managementState] ?? d.managementState) : 'Nothing reported yet'}
          </dd>
          <dt>Platform</dt>
          <dd data-field="platform" data-value={raw(d.platform)}>
            {d.platform ?? 'unknown'}
          </dd>
          <dt>User</dt>
          <dd data-field="userPrincipalName" data-value={raw(d.userPrincipalName)}>
            {d.userPrincipalName ?? 'unknown'}
          </dd>
          <dt>Last attempt</dt>
          <dd data-field="lastAttemptAt" data-value={raw(d.lastAttemptAt)}>
            <Time iso={d.lastAttemptAt} />
          </dd>
          <dt>Last successful report</dt>
          <dd data-field="lastSuccessfulReportAt" data-value={raw(d.lastSuccessfulReportAt)}>
            <Time iso={d.lastSuccessfulReportAt} />
          </dd>
          <dt>Retired</dt>
          <dd data-field="retiredAt" data-value={raw(d.retiredAt)}>
            <Time iso={d.retiredAt} empty="no" />
          </dd>
          <dt>Updated</dt>
          <dd data-field="updatedAt" data-value={raw(d.updatedAt)}>
            <Time iso={d.updatedAt} />
          </dd>
        </dl>
      </section>

      <section aria-labelledby="timeline">
        <h2 id="timeline">Report timeline</h2>
        {reports.length === 0 ? (
          <p class="muted">No report was sent for this device yet. A device is reported once it registered with its Azure device ID.</p>
        ) : (
          <div class="table-wrap">
            <table id="report-timeline" class="responsive">
              <caption class="muted">The newest {String(reports.length)} report attempts, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Why</th>
                  <th scope="col">Reported</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {reports.map((r) => (
                  <tr data-trigger={r.trigger} data-outcome={r.outcome}>
                    <td data-label="When">
                      <Time iso={r.at} />
                    </td>
                    <td data-label="Why">{r.grace ? `grace ${r.grace.phase}: ${r.grace.action}` : r.trigger}</td>
                    <td data-label="Reported">
                      {REPORTED_WORDS[r.reported.complianceStatus] ?? r.reported.complianceStatus}, {r.reported.managementState}
                    </td>
                    <td data-label="Outcome">
                      <Badge tone={complianceTone(r.outcome)}>{r.outcome}</Badge>
                    </td>
                    <td data-label="Error">
                      {r.error
                        ? `${String((r.error as { code?: unknown }).code ?? '')} ${String((r.error as { message?: unknown }).message ?? '')}`.trim()
                        : '—'}
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
};
