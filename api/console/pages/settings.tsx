/** Settings: the feature switch (turning it off is confirmed first) and the weekly report. */
import type { FC } from 'hono/jsx';
import { Badge, CsrfField, Notice, Time } from '../components';
import type { Answer, WeeklySchedule } from '../health';

export interface SettingsData {
  enabled: boolean;
  weeklyPaused: boolean;
  cron: string;
  schedule: Answer<WeeklySchedule>;
}

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
