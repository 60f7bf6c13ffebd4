/** The device list: the API's filters plus policy action and search, sort by last report, CSV export. */
import type { FC } from 'hono/jsx';
import type { z } from '@hono/zod-openapi';
import { CLIENT_STATUS_CODES, COMPLIANCE_STATUSES, POLICY_ACTIONS } from '../../../domain/constants';
import type { DeviceDetailsSchema } from '../../schemas';
import { ClientStatusBadge, ComplianceBadge, Notice, Time } from '../components';

export type DeviceDetails = z.infer<typeof DeviceDetailsSchema>;

/** The list's query, as its form and links carry it. */
export interface DeviceListQuery {
  complianceStatus?: string;
  clientStatusCode?: string;
  policyAction?: string;
  retired?: 'true' | 'false';
  q?: string;
  sort: 'deviceId' | 'lastReport';
}

export function listQueryString(q: DeviceListQuery, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  if (q.complianceStatus) params.set('complianceStatus', q.complianceStatus);
  if (q.clientStatusCode) params.set('clientStatusCode', q.clientStatusCode);
  if (q.policyAction) params.set('policyAction', q.policyAction);
  if (q.retired) params.set('retired', q.retired);
  if (q.q) params.set('q', q.q);
  if (q.sort !== 'deviceId') params.set('sort', q.sort);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

const Select: FC<{ name: string; label: string; value: string | undefined; options: Array<[string, string]> }> = ({
  name,
  label,
  value,
  options,
}) => (
  <label>
    {label}
    <select name={name}>
      <option value="">Any</option>
      {options.map(([v, text]) => (
        <option value={v} selected={v === value}>
          {text}
        </option>
      ))}
    </select>
  </label>
);

export const DevicesPage: FC<{
  query: DeviceListQuery;
  items: DeviceDetails[];
  enabled: boolean;
  nextCursor: string | null;
  isFirstPage: boolean;
}> = ({ query, items, enabled, nextCursor, isFirstPage }) => {
  const filtered = Boolean(query.complianceStatus || query.clientStatusCode || query.policyAction || query.retired || query.q);
  return (
    <>
      <h1>Devices</h1>
      <form class="filters" method="get" action="/console/devices" role="search" aria-label="Filter devices">
        <label>
          Search
          <input type="search" name="q" value={query.q ?? ''} placeholder="Device ID, Azure device ID or user" maxlength={200} />
        </label>
        <Select
          name="complianceStatus"
          label="Compliance status"
          value={query.complianceStatus}
          options={COMPLIANCE_STATUSES.map((s) => [s, s])}
        />
        <Select
          name="clientStatusCode"
          label="Client status code"
          value={query.clientStatusCode}
          options={CLIENT_STATUS_CODES.map((s) => [s, s])}
        />
        <Select
          name="policyAction"
          label="Policy action"
          value={query.policyAction}
          options={[...POLICY_ACTIONS.map((s): [string, string] => [s, s]), ['none', 'None']]}
        />
        <Select
          name="retired"
          label="Retired"
          value={query.retired}
          options={[
            ['false', 'Not retired'],
            ['true', 'Retired'],
          ]}
        />
        <Select
          name="sort"
          label="Sort by"
          value={query.sort === 'deviceId' ? undefined : query.sort}
          options={[['lastReport', 'Last report, newest first']]}
        />
        <button type="submit">Apply</button>
        {filtered ? (
          <a class="button secondary" href="/console/devices">
            Clear
          </a>
        ) : null}
      </form>
      <p class="actions">
        <a class="button secondary" href={`/console/devices.csv${listQueryString(query)}`} download>
          Export this list as CSV
        </a>
        <span class="muted">Every device matching the filters, not only this page.</span>
      </p>
      {!enabled ? (
        <Notice tone="warn">
          Reporting is off: compliance statuses read empty and a status filter matches nothing. <a href="/console/settings">Settings</a>
        </Notice>
      ) : null}
      {items.length === 0 ? (
        <Notice>
          {filtered ? (
            <>
              No device matches these filters. <a href="/console/devices">Clear the filters</a> to see every device.
            </>
          ) : (
            <>No device was seen yet: devices appear once the MDM sends their first event.</>
          )}
        </Notice>
      ) : (
        <div class="table-wrap">
          <table id="device-list" class="responsive">
            <caption class="muted">{`${items.length} devices on this page`}</caption>
            <thead>
              <tr>
                <th scope="col">Device ID</th>
                <th scope="col">User</th>
                <th scope="col">Azure Device Compliance Status</th>
                <th scope="col">Azure Client Status Code</th>
                <th scope="col">Why it failed</th>
                <th scope="col">Policy action</th>
                <th scope="col">{query.sort === 'lastReport' ? 'Report time (newest first)' : 'Report time'}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr data-device-id={d.deviceId}>
                  <td data-label="Device ID">
                    <a href={`/console/devices/${encodeURIComponent(d.deviceId)}`}>{d.deviceId}</a>
                    {d.retiredAt ? <span class="muted"> (retired)</span> : null}
                  </td>
                  <td data-label="User">{d.userPrincipalName ?? <span class="muted">unknown</span>}</td>
                  <td data-label="Compliance status">
                    <ComplianceBadge status={d.azureDeviceComplianceStatus} enabled={enabled} />
                  </td>
                  <td data-label="Client status code">
                    <ClientStatusBadge code={d.azureClientStatusCode} />
                  </td>
                  <td data-label="Why it failed">
                    {d.lastError ? (
                      <>
                        {d.lastError.code}
                        <span class="muted">{d.lastError.userCanMitigate ? ' — the user can fix it' : ' — an admin must act'}</span>
                      </>
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                  <td data-label="Policy action">{d.policyAction ?? 'None'}</td>
                  <td data-label="Report time">
                    <Time iso={d.azureDeviceComplianceReportTime} empty="never" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages">
        {!isFirstPage ? <a href={`/console/devices${listQueryString(query)}`}>First page</a> : null}
        {nextCursor !== null ? (
          <a href={`/console/devices${listQueryString(query, { cursor: nextCursor })}`} rel="next">
            Next page
          </a>
        ) : null}
      </nav>
    </>
  );
};
