/** Settings: the feature switch (turning it off is confirmed first), the weekly report and the grace periods. */
import type { FC } from 'hono/jsx';
import { GRACE_ACTIONS, GRACE_WARNED_ACTIONS, type GracePeriods } from '../../../domain/grace';
import { Badge, CsrfField, Notice, Time } from '../components';
import type { Answer, WeeklySchedule } from '../health';

export interface SettingsData {
  enabled: boolean;
  weeklyPaused: boolean;
  cron: string;
  schedule: Answer<WeeklySchedule>;
  gracePeriods: GracePeriods;
}

/** What holding each action back means for the device's user, in the admin's words. */
const GRACE_EFFECT: Record<(typeof GRACE_ACTIONS)[number], string> = {
  RETIRE: 'the device stays managed and compliant at Microsoft after the MDM retired it',
  QUARANTINE: 'a quarantined device keeps its access to Microsoft 365',
  BLOCK_APPCONNECT: 'apps blocked by the MDM keep their access through Conditional Access',
  BLOCK_EMAIL: 'email keeps working on a device the MDM blocked',
};

const GracePeriodsSection: FC<{ periods: GracePeriods; csrf: string }> = ({ periods, csrf }) => {
  const warned = GRACE_WARNED_ACTIONS.filter((a) => periods[a] !== undefined);
  return (
    <section aria-labelledby="grace">
      <h2 id="grace">Grace periods</h2>
      <p>
        How long a policy action waits before it is reported to Microsoft, as an ISO 8601 duration (<code>PT24H</code>, <code>P2D</code>, up
        to <code>P30D</code>); empty for none, the default. Meanwhile Microsoft keeps what it was told before; if the MDM lifts the action
        within the grace, nothing is reported.
      </p>
      {warned.length > 0 ? (
        <Notice tone="warn">
          <p id="grace-warning">
            <strong>{warned.join(' and ')}</strong> {warned.length > 1 ? 'have' : 'has'} a grace period: during it,{' '}
            {warned.map((a) => GRACE_EFFECT[a as (typeof GRACE_ACTIONS)[number]]).join('; ')}.
          </p>
        </Notice>
      ) : null}
      <form method="post" action="/console/settings/grace" class="filters">
        <CsrfField token={csrf} />
        {GRACE_ACTIONS.map((a) => (
          <label>
            {a}
            <input type="text" name={a} value={periods[a] ?? ''} placeholder="none" size={8} autocomplete="off" />
          </label>
        ))}
        <button type="submit" class="secondary">
          Save grace periods
        </button>
      </form>
    </section>
  );
};

export const SettingsPage: FC<{ s: SettingsData; csrf: string; notice?: string | undefined }> = ({ s, csrf, notice }) => (
  <>
    <h1>Settings</h1>
    {notice ? <Notice tone="ok">{notice}</Notice> : null}
    <section aria-labelledby="reporting">
      <h2 id="reporting">Reporting to Microsoft</h2>
      <p id="reporting-state">
        {s.enabled ? <Badge tone="ok">On</Badge> : <Badge tone="off">Off</Badge>}{' '}
        {s.enabled
          ? 'Every device change is reported to Intune, and every device once a week.'
          : 'Nothing is reported to Intune; Conditional Access works on what was last reported.'}
      </p>
      <form method="post" action="/console/settings/reporting">
        <CsrfField token={csrf} />
        <input type="hidden" name="enabled" value={s.enabled ? 'false' : 'true'} />
        <button type="submit" class={s.enabled ? 'danger' : ''}>
          {s.enabled ? 'Turn reporting off…' : 'Turn reporting on'}
        </button>
        {!s.enabled ? <span class="muted"> Turning it on reports every device's current state.</span> : null}
      </form>
    </section>
    <section aria-labelledby="weekly">
      <h2 id="weekly">Weekly report</h2>
      <p id="weekly-state">
        {s.weeklyPaused ? <Badge tone="wait">Paused</Badge> : <Badge tone="ok">Running</Badge>} Schedule <code>{s.cron}</code> (cron, UTC).{' '}
        {s.schedule.ok ? (
          s.schedule.value.exists ? (
            <>
              Next run:{' '}
              {s.schedule.value.paused ? 'none while paused' : <Time iso={s.schedule.value.nextRuns[0] ?? null} empty="not planned" />}.
              Last run: <Time iso={s.schedule.value.lastRunAt} empty="never" />.
            </>
          ) : (
            <span class="muted">The worker creates the Schedule when it starts.</span>
          )
        ) : (
          <span class="muted">Temporal did not answer ({s.schedule.reason}).</span>
        )}
      </p>
      <form method="post" action="/console/settings/weekly">
        <CsrfField token={csrf} />
        <input type="hidden" name="paused" value={s.weeklyPaused ? 'false' : 'true'} />
        <button type="submit" class="secondary">
          {s.weeklyPaused ? 'Resume the weekly report' : 'Pause the weekly report'}
        </button>
      </form>
    </section>
    <GracePeriodsSection periods={s.gracePeriods} csrf={csrf} />
  </>
);

export const ConfirmDisablePage: FC<{ csrf: string }> = ({ csrf }) => (
  <>
    <h1>Turn reporting off?</h1>
    <Notice tone="warn">
      <p>While reporting is off:</p>
      <ul>
        <li>no device change, weekly report or re-report is sent to Microsoft Intune;</li>
        <li>Intune keeps the compliance it last received, so Conditional Access goes on deciding on stale data;</li>
        <li>every device's Azure Device Compliance Status and Report Time read empty here and in the API.</li>
      </ul>
      <p>Turning it back on reports every device's current state.</p>
    </Notice>
    <form method="post" action="/console/settings/reporting" class="actions">
      <CsrfField token={csrf} />
      <input type="hidden" name="enabled" value="false" />
      <input type="hidden" name="confirm" value="yes" />
      <button type="submit" class="danger">
        Yes, turn reporting off
      </button>
      <a href="/console/settings">Cancel, keep it on</a>
    </form>
  </>
);
