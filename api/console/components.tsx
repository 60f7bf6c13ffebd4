/**
 * The console's page shell and the small pieces every page uses: times, status badges that carry a
 * word, inline SVG bar charts with their numbers in a table, progress bars, notices.
 */
import type { Child, FC } from 'hono/jsx';
import type { Session } from './session';
import { CSRF_FIELD } from './session';

export type NavPage = 'overview' | 'devices' | 'operations' | 'settings' | 'none';

const NAV: Array<{ page: NavPage; href: string; label: string }> = [
  { page: 'overview', href: '/console', label: 'Overview' },
  { page: 'devices', href: '/console/devices', label: 'Devices' },
  { page: 'operations', href: '/console/operations', label: 'Operations' },
  { page: 'settings', href: '/console/settings', label: 'Settings' },
];

export interface LayoutProps {
  title: string;
  page: NavPage;
  session?: Session | undefined;
  csrf?: string | undefined;
  /** Reload the page after this many seconds (a running operation); works without JavaScript. */
  refreshSeconds?: number | undefined;
  children?: Child;
}

export const Layout: FC<LayoutProps> = ({ title, page, session, csrf, refreshSeconds, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      {refreshSeconds !== undefined ? <meta http-equiv="refresh" content={String(refreshSeconds)} /> : null}
      <title>{`${title} · Azure compliance connector`}</title>
      <link rel="stylesheet" href="/console/assets/console.css" />
      <script src="/console/assets/console.js" defer></script>
    </head>
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/console">
          Azure compliance connector
        </a>
        {session ? (
          <nav aria-label="Console">
            <ul>
              {NAV.map((n) => (
                <li>
                  <a href={n.href} aria-current={n.page === page ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        {session && csrf ? (
          <form method="post" action="/console/sign-out">
            <span class="who">
              Tenant {session.tenantId} · {session.role}{' '}
            </span>
            <input type="hidden" name={CSRF_FIELD} value={csrf} />
            <button type="submit" class="secondary">
              Sign out
            </button>
          </form>
        ) : null}
      </header>
      <main id="main" tabindex={-1}>
        {children}
      </main>
    </body>
  </html>
);

/** `Mon, 30 Nov 2026 06:00:00 UTC`-style text without JavaScript; the script shows local time, the title keeps UTC. */
export function utcText(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export const Time: FC<{ iso: string | null | undefined; empty?: string }> = ({ iso, empty }) =>
  iso ? (
    <time datetime={iso} title={utcText(iso)}>
      {utcText(iso)}
    </time>
  ) : (
    <span class="muted">{empty ?? 'never'}</span>
  );

export type Tone = 'ok' | 'bad' | 'wait' | 'off';

export const Badge: FC<{ tone: Tone; children?: Child }> = ({ tone, children }) => <span class={`badge ${tone}`}>{children}</span>;

export function complianceTone(status: string | null): Tone {
  if (status === 'Successful') return 'ok';
  if (status === 'Failed') return 'bad';
  if (status === 'In-progress') return 'wait';
  return 'off';
}

/** The Azure Device Compliance Status as a badge; null reads as "not reported" (or reporting off). */
export const ComplianceBadge: FC<{ status: string | null; enabled: boolean }> = ({ status, enabled }) => (
  <Badge tone={complianceTone(status)}>{status ?? (enabled ? 'Not reported' : 'Reporting off')}</Badge>
);

export const ClientStatusBadge: FC<{ code: string | null }> = ({ code }) =>
  code === null ? <Badge tone="off">Unknown</Badge> : <Badge tone={code === 'Success' ? 'ok' : 'bad'}>{code}</Badge>;

export interface ChartRow {
  /** The API's value this row counts (`null` as the text "null"). */
  value: string;
  label: string;
  count: number;
  tone: Tone;
  /** Where the row's devices are listed. */
  href?: string;
}

const TONE_FILL: Record<Tone, string> = { ok: '#1a7f37', bad: '#b3261e', wait: '#a37500', off: '#6e7781' };

/**
 * A small bar chart: a table of values and counts whose last column draws each count as an inline SVG
 * bar (decorative, hidden from screen readers; the numbers are in the table, which is what assistive
 * technology and the tests read).
 */
export const BarChart: FC<{ id: string; caption: string; rows: ChartRow[] }> = ({ id, caption, rows }) => {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return (
    <table id={id} class="chart-table">
      <caption class="muted">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Value</th>
          <th scope="col" class="num">
            Devices
          </th>
          <th scope="col" class="bar-cell">
            <span class="visually-hidden">Share</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr data-value={r.value}>
            <th scope="row">
              {r.href ? (
                <a href={r.href}>
                  <Badge tone={r.tone}>{r.label}</Badge>
                </a>
              ) : (
                <Badge tone={r.tone}>{r.label}</Badge>
              )}
            </th>
            <td class="num" data-count={String(r.count)}>
              {String(r.count)}
            </td>
            <td class="bar-cell">
              <svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
                <rect x="0" y="0" width="100" height="10" fill="#e3e8ee" />
                <rect x="0" y="0" width={String((r.count / max) * 100)} height="10" fill={TONE_FILL[r.tone]} />
              </svg>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
};

/** A fleet operation's progress: a <progress> bar with its numbers in words. */
export const OperationProgress: FC<{ total: number | null; signalled: number; skipped: number; finished: boolean }> = ({
  total,
  signalled,
  skipped,
  finished,
}) => {
  const done = signalled + skipped;
  const label =
    total === null
      ? `${done} devices handled, counting…`
      : `${done} of ${total} devices handled (${signalled} re-reported, ${skipped} skipped)`;
  return (
    <div>
      {total === null ? (
        <progress aria-label={label}></progress>
      ) : (
        <progress max={String(Math.max(total, 1))} value={String(total === 0 ? 1 : done)} aria-label={label}></progress>
      )}
      <div>
        {finished ? <Badge tone="ok">Finished</Badge> : <Badge tone="wait">Running</Badge>} <span class="progress-text">{label}</span>
      </div>
    </div>
  );
};

export const Notice: FC<{ tone?: 'error' | 'warn' | 'ok' | 'info'; children?: Child }> = ({ tone, children }) => (
  <div class={`notice ${tone && tone !== 'info' ? tone : ''}`} role={tone === 'error' ? 'alert' : 'status'}>
    {children}
  </div>
);

export const CsrfField: FC<{ token: string }> = ({ token }) => <input type="hidden" name={CSRF_FIELD} value={token} />;
