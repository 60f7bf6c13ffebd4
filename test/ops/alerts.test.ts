/**
 * The operator's alerting (ops/prometheus, docs/runbook.md): promtool accepts the rules and the
 * scrape configuration and passes the rule tests (series that fire and series that do not); every
 * alert points to a runbook section that exists; and every metric a rule names is served by the
 * running stack — api/main.ts and workers/main.ts as child processes on the test Postgres, Temporal
 * server and Azure emulator — with a `tenant` label holding only known tenants.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { startChild, waitUntil, type Child } from '../../bench/lib/child';
import { connectorEnv, startConnectorApi, waitForApi } from '../../bench/lib/stack';
import { recordHeartbeat, upsertReportAttempt } from '../../db/data';
import { PROJECT_ROOT } from '../../lib/project-root';
import { freePort } from '../../lib/ports';
import { WORKER_ENTRY, WORKER_NODE_FLAGS } from '../../workers/launch';
import { TENANT_HEARTBEAT_WORKFLOW_TYPE } from '../../workflows/fleet-messages';
import { seedDevice } from '../api/helpers';
import { testEnv, uniqueName } from '../support/env';

const OPS = path.join(PROJECT_ROOT, 'ops', 'prometheus');
const RULES = path.join(OPS, 'alerts.yml');

interface Rule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}

function rules(): Rule[] {
  const doc = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

function promtool(...args: string[]): string {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    throw new Error('promtool is not installed: apt-get install -y --no-install-recommends prometheus (Debian), as .ci/run does');
  }
  const run = spawnSync('promtool', args, { cwd: OPS, encoding: 'utf8' });
  assert.equal(run.status, 0, `promtool ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool']);

/** The metric names an expression selects: identifiers that are not functions, keywords, labels or strings. */
export function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const before = bare.slice(0, m.index);
    const after = bare.slice(m.index + word.length);
    // Keywords, function calls, duration units (30m).
    if (PROMQL_WORDS.has(word) || /^\s*\(/.test(after) || /\d$/.test(before)) continue;
    names.add(word);
  }
  return [...names];
}

/** Prometheus text → metric name → the label sets of its samples. */
function samples(text: string): Map<string, Array<Record<string, string>>> {
  const out = new Map<string, Array<Record<string, string>>>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), labels]);
  }
  return out;
}

describe('ops: Prometheus alert rules', function () {
  this.timeout(60_000);

  it('promtool accepts the rules and the scrape configuration, and the rule tests pass', () => {
    assert.match(promtool('check', 'rules', 'alerts.yml'), new RegExp(`SUCCESS: ${rules().length} rules found`));
    assert.match(promtool('check', 'config', 'prometheus.yml'), /SUCCESS/);
    assert.match(promtool('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
  });

  it('tests every alert both firing and not firing', () => {
    const doc = parse(readFileSync(path.join(OPS, 'alerts.test.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const cases = doc.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of rules()) {
      assert.ok(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0),
        `${alert} has a case where it fires`,
      );
      assert.ok(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0),
        `${alert} has a case where it does not fire`,
      );
    }
  });

  it('gives every alert a runbook section of docs/runbook.md that exists', () => {
    const runbook = readFileSync(path.join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const rule of rules()) {
      const link = rule.annotations?.runbook ?? '';
      const m = /^docs\/runbook\.md#(.+)$/.exec(link);
      assert.ok(m, `${rule.alert}: runbook annotation ${JSON.stringify(link)}`);
      assert.ok(anchors.has(m[1]!), `${rule.alert}: docs/runbook.md has a section #${m[1]}`);
    }
  });

  it('reads metric names out of expressions', () => {
    assert.deepEqual(
      metricNamesOf('(time() - max by (tenant) (a_b{x="y, z"})) > 3 * 3600 and on (tenant) sum(rate(c_total[5m])) or absent(up{job="j"})'),
      ['a_b', 'c_total', 'up'],
    );
  });
});

describe('ops: every metric the alert rules use is served by the running stack', function () {
  this.timeout(240_000);
  const env = () => testEnv();
  const tenant = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: `secret-${randomUUID()}` };
  const revokedTenant = randomUUID();
  const taskQueue = uniqueName('alerting');
  let tmpDir: string;
  let api: Child | undefined;
  let worker: Child | undefined;
  let apiUrl: string;
  let workerMetricsUrl: string;
  const faults: string[] = [];
  const mdmKey = randomBytes(24).toString('hex');
  // A device whose Entra device and user exist in the emulator, for a real report.
  const reported = {
    deviceId: uniqueName('alerting-mdm'),
    azureDeviceId: randomUUID(),
    userPrincipalName: `${uniqueName('user')}@contoso.com`,
  };

  before(async () => {
    const { emulator, db } = env();
    await emulator.control.seed({
      tenants: [
        {
          tenantId: tenant.tenantId,
          apps: [{ clientId: tenant.clientId, clientSecret: tenant.clientSecret }],
          users: [{ userPrincipalName: reported.userPrincipalName }],
          devices: [{ deviceId: reported.azureDeviceId, operatingSystem: 'iOS', displayName: reported.deviceId }],
        },
      ],
    });
    tmpDir = mkdtempSync(path.join(os.tmpdir(), 'acc-alerting-'));
    const base = connectorEnv({
      databaseUrl: env().databaseUrl,
      temporalAddress: env().temporalAddress,
      taskQueue,
      tenant,
      emulatorUrl: emulator.url,
      caPemPath: emulator.caPemPath,
    });
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    apiUrl = `http://127.0.0.1:${apiPort}`;
    workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    worker = startChild({
      name: 'worker',
      script: WORKER_ENTRY,
      nodeFlags: [...WORKER_NODE_FLAGS],
      env: { ...base, LOG_LEVEL: 'info', WORKER_METRICS_PORT: String(metricsPort) },
    });
    await worker.waitForLine((l) => (l.includes('"worker started"') ? true : undefined), 180_000);
    api = startConnectorApi(
      {
        ...base,
        API_PORT: String(apiPort),
        MDM_API_KEY: mdmKey,
        ADMIN_API_KEY: randomBytes(24).toString('hex'),
        LOG_LEVEL: 'warn',
      },
      path.join(tmpDir, 'api.log'),
    );
    await waitForApi(api, apiUrl, 60_000);

    // A report Microsoft has not finished processing, and a drift report: rows as the workflow writes them.
    await seedDevice(db, tenant.tenantId, 'alerting-device-1', {
      complianceStatus: 'In-progress',
      lastAttemptAt: new Date(Date.now() - 60_000).toISOString(),
    });
    await upsertReportAttempt(db, {
      tenantId: tenant.tenantId,
      deviceId: 'alerting-device-1',
      attemptKey: randomUUID(),
      at: new Date().toISOString(),
      trigger: 'drift',
      reported: { complianceStatus: 'Successful', managementState: 'managed' },
      outcome: 'Successful',
      messageId: null,
      error: null,
      completedAt: new Date().toISOString(),
    });
    // The tenant as the tenants table knows it, and another one whose consent was revoked and whose token failed.
    await db('tenants')
      .insert([
        { tenant_id: tenant.tenantId, display_name: 'Alerting test', state: 'active', token_ok: true },
        { tenant_id: revokedTenant, display_name: 'Alerting test, revoked', state: 'consent-revoked', token_ok: false },
      ])
      // The worker registers the configured tenant at its start: then its row is already there.
      .onConflict('tenant_id')
      .merge(['state', 'token_ok']);
    // A tenant nobody configured: its rows must not become a label value.
    await recordHeartbeat(db, `unknown-${randomUUID()}`, new Date().toISOString(), { ok: false });
  });

  after(async () => {
    for (const id of faults)
      await env()
        .emulator.control.removeFault(id)
        .catch(() => undefined);
    await api?.stop();
    await worker?.stop();
    await env().db('tenants').where('tenant_id', revokedTenant).delete();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  });

  async function scrape(url: string): Promise<Map<string, Array<Record<string, string>>>> {
    const res = await fetch(url);
    assert.equal(res.status, 200, `${url} answers 200`);
    return samples(await res.text());
  }

  it('counts a throttled heartbeat on the worker and records it for the API, then serves every rule metric with the tenant label', async () => {
    // Microsoft throttles the tenant's first heartbeat; the retry is accepted.
    faults.push(
      (
        await env().emulator.control.addFault({
          match: { pathRegex: `PartnerTenantHeartbeat\\(guid'${tenant.tenantId}'\\)` },
          response: { status: 429, headers: { 'Retry-After': '1' }, body: { error: { code: 'TooManyRequests', message: 'slow down' } } },
          times: 1,
        })
      ).id,
    );
    const result = (await env().temporalClient.workflow.execute(TENANT_HEARTBEAT_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: uniqueName('alerting-heartbeat'),
      args: [{ tenantId: tenant.tenantId }],
      workflowExecutionTimeout: '2 minutes',
    })) as { sent: boolean };
    assert.equal(result.sent, true, 'the heartbeat was accepted after the throttled attempt');

    const workerMetrics = await waitUntil(
      'the worker exports the throttled call',
      async () => {
        const s = await scrape(workerMetricsUrl);
        const throttled = s.get('acc_microsoft_throttled_total')?.find((l) => l.tenant === tenant.tenantId);
        return throttled ? s : undefined;
      },
      30_000,
    );
    const workerText = await (await fetch(workerMetricsUrl)).text();
    assert.match(workerText, new RegExp(`^acc_microsoft_throttled_total\\{[^}]*tenant="${tenant.tenantId}"[^}]*\\} 1$`, 'm'));
    assert.ok(workerMetrics.get('acc_tenant_heartbeat_last_success_timestamp_seconds')?.some((l) => l.tenant === tenant.tenantId));

    const apiMetrics = await scrape(`${apiUrl}/metrics`);
    const served = new Map([...apiMetrics, ...workerMetrics]);
    const apiText = await (await fetch(`${apiUrl}/metrics`)).text();
    assert.match(
      apiText,
      new RegExp(`^acc_tenant_heartbeat_ok\\{tenant="${tenant.tenantId}"\\} 1$`, 'm'),
      'the API reads the heartbeat the worker recorded',
    );
    assert.match(apiText, /^acc_dependency_up\{dependency="postgres"\} 1$/m);
    assert.match(apiText, /^acc_dependency_up\{dependency="temporal"\} 1$/m);
    assert.match(apiText, new RegExp(`^acc_tenant_consent_revoked\\{tenant="${tenant.tenantId}"\\} 0$`, 'm'));
    assert.match(apiText, new RegExp(`^acc_tenant_consent_revoked\\{tenant="${revokedTenant}"\\} 1$`, 'm'));
    assert.match(apiText, new RegExp(`^acc_tenant_token_ok\\{tenant="${tenant.tenantId}"\\} 1$`, 'm'));
    assert.match(apiText, new RegExp(`^acc_tenant_token_ok\\{tenant="${revokedTenant}"\\} 0$`, 'm'));
    assert.match(apiText, new RegExp(`^acc_drift_found_total\\{tenant="${tenant.tenantId}"\\} 1$`, 'm'));

    const used = new Set(rules().flatMap((r) => metricNamesOf(r.expr)));
    assert.ok(used.size >= 10, `rule metrics: ${[...used].join(', ')}`);
    for (const name of used) {
      if (name === 'up') continue; // Prometheus's own, per scrape job
      const found = served.get(name);
      assert.ok(found && found.length > 0, `${name} (used by a rule) has samples in /metrics of the API or the worker`);
      if (name === 'acc_microsoft_queue_oldest_task_age_seconds') {
        // The queue every tenant shares: labelled by queue, not by tenant.
        assert.ok(
          found.some((l) => l.task_queue === `${taskQueue}-microsoft`),
          `${name}: ${JSON.stringify(found)}`,
        );
      } else if (name !== 'acc_dependency_up') {
        assert.ok(
          found.some((l) => l.tenant === tenant.tenantId),
          `${name} carries tenant="${tenant.tenantId}": ${JSON.stringify(found)}`,
        );
      }
    }
    const known = new Set([tenant.tenantId, ...(await env().db('tenants').pluck('tenant_id'))]);
    for (const [name, labelSets] of served) {
      if (!name.startsWith('acc_')) continue;
      for (const l of labelSets) if ('tenant' in l) assert.ok(known.has(l.tenant!), `${name}: tenant="${l.tenant}" is a known tenant`);
    }
  });

  it('counts every report attempt the worker finishes, by result, as the timeline records them', async () => {
    const res = await fetch(`${apiUrl}/v1/devices/${reported.deviceId}/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${mdmKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        type: 'registration',
        occurredAt: new Date(Date.now() - 1_000).toISOString(),
        platform: 'iOS',
        azureDeviceId: reported.azureDeviceId,
        clientStatusCode: 'Success',
        userPrincipalName: reported.userPrincipalName,
      }),
    });
    assert.equal(res.status, 202, await res.text());
    const finished = await waitUntil(
      'the report finished',
      async () => {
        const rows = await env()
          .db('report_attempts')
          .where({ tenant_id: tenant.tenantId, device_id: reported.deviceId })
          .whereIn('outcome', ['Successful', 'Failed'])
          .select('outcome');
        return rows.length > 0 ? rows : undefined;
      },
      60_000,
    );
    const text = await waitUntil(
      'the worker exports it',
      async () => {
        const t = await (await fetch(workerMetricsUrl)).text();
        return /^acc_reports_finished_total\{[^}]*\} [1-9]/m.test(t) ? t : undefined;
      },
      10_000,
    );
    const counted = (result: string) =>
      [...text.matchAll(/^acc_reports_finished_total\{([^}]*)\} (\d+)$/gm)]
        .filter((m) => m[1]!.includes(`tenant="${tenant.tenantId}"`) && m[1]!.includes(`result="${result}"`))
        .reduce((sum, m) => sum + Number(m[2]), 0);
    for (const result of ['Successful', 'Failed']) {
      assert.equal(counted(result), finished.filter((r) => r.outcome === result).length, `${result} reports counted`);
    }
  });
});
