/**
 * The configuration module (docs/http-contract.md, Configuration): the defaults, and a bad value stops a
 * process at start with exactly one line naming the variable (never echoing a secret).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from '../../lib/project-root';
import { ConfigError, loadConfig, parseIsoDuration } from '../../config';
import { DEFAULT_MAX_CLOCK_SKEW_MS } from '../../domain/constants';

function problemOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

/** Runs an entry point with `env` over a clean environment and returns what it printed. */
function run(entry: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

describe('configuration', () => {
  it("has the contract's defaults", () => {
    const c = loadConfig({});
    assert.equal(c.apiPort, 8080);
    assert.equal(c.workerMetricsHost, '127.0.0.1', 'the worker metrics listen on loopback');
    assert.deepEqual({ ...c.keys }, { mdm: undefined, admin: undefined, operator: undefined });
    assert.equal(c.databaseUrl, undefined, 'embedded Postgres');
    assert.deepEqual(
      { ...c.temporal },
      { address: undefined, namespace: 'default', taskQueue: 'azure-compliance', cliPath: undefined, grpcCompression: 'none' },
    );
    assert.equal(c.azure, undefined, 'the local emulator');
    const withCredentials = loadConfig({
      AZURE_TENANT_ID: '11111111-2222-4333-8444-555555555555',
      AZURE_CLIENT_ID: '66666666-7777-4888-9999-aaaaaaaaaaaa',
      AZURE_CLIENT_SECRET: 's',
    });
    assert.deepEqual(
      { ...withCredentials.azure },
      {
        tenantId: '11111111-2222-4333-8444-555555555555',
        clientId: '66666666-7777-4888-9999-aaaaaaaaaaaa',
        clientSecret: 's',
        authorityHost: 'https://login.microsoftonline.com',
        graphBaseUrl: 'https://graph.microsoft.com',
        requestTimeoutMs: 30000,
      },
    );
    assert.equal(c.weeklyReportCron, '0 6 * * 1');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.azureEmulatorPort, 9443);
    assert.equal(c.dataDir, '.data');
    assert.deepEqual({ ...c.local }, { temporalPort: 7233, temporalUiPort: 8233, postgresPort: 5433 });
    assert.equal(c.maxClockSkewMs, 5 * 60_000, 'MAX_CLOCK_SKEW PT5M');
    assert.equal(c.maxClockSkewMs, DEFAULT_MAX_CLOCK_SKEW_MS, "the domain's default for callers without a config");
  });

  it('reads MAX_CLOCK_SKEW as an ISO 8601 duration', () => {
    const cases: Array<[string, number]> = [
      ['PT30S', 30_000],
      ['PT5M', 300_000],
      ['PT1H30M', 5_400_000],
      ['P1D', 86_400_000],
      ['PT0.5S', 500],
      ['PT0S', 0],
      [' PT2M ', 120_000],
    ];
    for (const [value, ms] of cases) assert.equal(loadConfig({ MAX_CLOCK_SKEW: value }).maxClockSkewMs, ms, value);
    assert.equal(parseIsoDuration('P'), undefined);
    assert.equal(parseIsoDuration('PT'), undefined);
    assert.equal(parseIsoDuration('P1M'), undefined, 'months are refused: their length depends on the date');
  });

  it('reads each variable', () => {
    const c = loadConfig({
      API_PORT: '9090',
      MDM_API_KEY: 'm'.repeat(32),
      ADMIN_API_KEY: 'a'.repeat(32),
      DATABASE_URL: 'postgresql://u:p@db:5432/x',
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_NAMESPACE: 'ns',
      TEMPORAL_TASK_QUEUE: 'q',
      TEMPORAL_GRPC_COMPRESSION: 'gzip',
      AZURE_TENANT_ID: '11111111-2222-4333-8444-555555555555',
      AZURE_CLIENT_ID: '66666666-7777-4888-9999-aaaaaaaaaaaa',
      AZURE_CLIENT_SECRET: 's',
      AZURE_AUTHORITY_HOST: 'https://login.example/',
      GRAPH_BASE_URL: 'https://graph.example',
      WEEKLY_REPORT_CRON: '30 2 * * 0',
      LOG_LEVEL: 'debug',
      TEMPORAL_DEV_PORT: '17233',
      TEMPORAL_UI_PORT: '18233',
      EMBEDDED_POSTGRES_PORT: '15433',
      WORKER_METRICS_HOST: '0.0.0.0',
    });
    assert.equal(c.apiPort, 9090);
    assert.equal(c.workerMetricsHost, '0.0.0.0');
    assert.equal(c.temporal.address, 'temporal.example:7233');
    assert.equal(c.temporal.grpcCompression, 'gzip');
    assert.equal(c.azure?.authorityHost, 'https://login.example', 'trailing slash dropped');
    assert.equal(c.azure?.graphBaseUrl, 'https://graph.example');
    assert.equal(c.weeklyReportCron, '30 2 * * 0');
    assert.deepEqual({ ...c.local }, { temporalPort: 17233, temporalUiPort: 18233, postgresPort: 15433 });
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['API_PORT', { API_PORT: 'eighty' }, /API_PORT .*"eighty"/],
    ['API_PORT', { API_PORT: '70000' }, /API_PORT/],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    ['WORKER_METRICS_HOST', { WORKER_METRICS_HOST: 'http://0.0.0.0' }, /WORKER_METRICS_HOST must be an IPv4 address or a host name/],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgres:\/\/ connection string/],
    ['TEMPORAL_ADDRESS', { TEMPORAL_ADDRESS: 'localhost' }, /TEMPORAL_ADDRESS must be host:port/],
    ['TEMPORAL_GRPC_COMPRESSION', { TEMPORAL_GRPC_COMPRESSION: 'zstd' }, /TEMPORAL_GRPC_COMPRESSION/],
    ['AZURE_AUTHORITY_HOST', { AZURE_AUTHORITY_HOST: 'http://login.example' }, /AZURE_AUTHORITY_HOST must be an https:\/\/ URL/],
    ['WEEKLY_REPORT_CRON', { WEEKLY_REPORT_CRON: 'every monday' }, /WEEKLY_REPORT_CRON must be a five-field cron expression/],
    [
      'AZURE_TENANT_ID',
      { AZURE_TENANT_ID: 'contoso', AZURE_CLIENT_ID: '66666666-7777-4888-9999-aaaaaaaaaaaa', AZURE_CLIENT_SECRET: 's' },
      /AZURE_TENANT_ID must be a GUID/,
    ],
    [
      'AZURE_CLIENT_ID',
      { AZURE_TENANT_ID: '11111111-2222-4333-8444-555555555555' },
      /AZURE_CLIENT_ID is required when AZURE_TENANT_ID is set/,
    ],
    ['TEMPORAL_DEV_PORT', { TEMPORAL_DEV_PORT: '-1' }, /TEMPORAL_DEV_PORT/],
    [
      'MAX_CLOCK_SKEW',
      { MAX_CLOCK_SKEW: '5 minutes' },
      /^configuration error: MAX_CLOCK_SKEW must be an ISO 8601 duration such as PT5M, PT30S or PT1H \(got "5 minutes"\)$/,
    ],
    ['MAX_CLOCK_SKEW', { MAX_CLOCK_SKEW: '300' }, /MAX_CLOCK_SKEW must be an ISO 8601 duration/],
    ['MAX_CLOCK_SKEW', { MAX_CLOCK_SKEW: 'P2D' }, /MAX_CLOCK_SKEW must be at most P1D \(a day\)/],
  ];
  for (const [variable, env, message] of bad) {
    it(`names ${variable} when it is wrong (${JSON.stringify(env[variable] ?? env)})`, () => {
      const err = problemOf(env);
      assert.equal(err.variable, variable);
      assert.match(err.message, message);
      assert.equal(err.message.split('\n').length, 1, 'one line');
    });
  }

  it('never echoes a key it rejects', () => {
    const err = problemOf({ MDM_API_KEY: 'short-secret' });
    assert.equal(err.variable, 'MDM_API_KEY');
    assert.ok(!err.message.includes('short-secret'), err.message);
  });

  it('stops npm start at once with one line naming the variable, before starting anything', function () {
    this.timeout(30_000);
    const r = run('scripts/start.ts', { API_PORT: 'eighty', DATA_DIR: '/nonexistent/never-created' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '', 'nothing started, nothing printed');
    assert.match(r.stderr, /^configuration error: API_PORT [^\n]*"eighty"\)\n$/, `exactly one line, got ${JSON.stringify(r.stderr)}`);
  });

  it('stops the API with one line naming MAX_CLOCK_SKEW when it is not a duration', function () {
    this.timeout(30_000);
    const r = run('api/main.ts', { MAX_CLOCK_SKEW: '5m' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, 'configuration error: MAX_CLOCK_SKEW must be an ISO 8601 duration such as PT5M, PT30S or PT1H (got "5m")\n');
  });

  it('stops the worker and the API with one line naming the variable', function () {
    this.timeout(30_000);
    for (const entry of ['workers/main.ts', 'api/main.ts']) {
      const r = run(entry, { LOG_LEVEL: 'loud' });
      assert.equal(r.status, 2, `${entry}: ${r.stderr}`);
      assert.match(r.stderr, /^configuration error: LOG_LEVEL [^\n]*\n$/, `${entry} printed ${JSON.stringify(r.stderr)}`);
    }
  });

  it('stops the worker at start with one line naming the required variables it lacks (PROCESS_VARIABLES)', function () {
    this.timeout(30_000);
    const r = run('workers/main.ts', {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
      AZURE_TENANT_ID: '11111111-2222-4333-8444-555555555555',
      AZURE_CLIENT_ID: '66666666-7777-4888-9999-aaaaaaaaaaaa',
      AZURE_CLIENT_SECRET: 's',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      'configuration error: TEMPORAL_ADDRESS is required by the worker (npm start sets it for its embedded defaults)\n',
    );
    const none = run('workers/main.ts', {});
    assert.equal(none.status, 2, none.stderr);
    assert.equal(
      none.stderr,
      'configuration error: DATABASE_URL, TEMPORAL_ADDRESS, AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are required by the worker (npm start sets them for its embedded defaults)\n',
    );
  });
});
