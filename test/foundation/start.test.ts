/**
 * `npm start` end to end, as a person would run it: `npx tsx scripts/start.ts` with no DATABASE_URL,
 * TEMPORAL_ADDRESS or Azure credentials (so the embedded Postgres, the Temporal dev server and the
 * Azure emulator all start), in a DATA_DIR of its own and on free ports. It must print the API URL,
 * answer /readyz and serve the Temporal UI, and after Ctrl-C (SIGINT to its process group) leave no
 * process behind. A second start reuses what the first kept (cluster, keys, tenant), restarts a killed
 * worker or API with backoff, and stops everything (exit 1, one line) on the 5th crash of one within a
 * minute; the death of an infrastructure child stops everything at once.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/project-root';
import { portOpen } from '../../lib/temporal-cli';
import { testEnv } from '../support/env';

interface Ports {
  api: number;
  temporal: number;
  ui: number;
  postgres: number;
  emulator: number;
  metrics: number;
}

/** Processes (other than us) whose command line or environment mentions `marker`. */
function processesMentioning(marker: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      let environ = '';
      try {
        environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        // not readable: the command line has to do
      }
      if (cmdline === '') continue; // a zombie or a kernel thread
      if (cmdline.includes(marker) || environ.includes(marker)) found.push({ pid, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * A free port below the kernel's ephemeral range (32768+ here), where outgoing connections of
 * everything else running on the machine cannot take it between our pick and its use.
 */
async function pickPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
}

class StartRun {
  readonly child: ChildProcess;
  output = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn('npx', ['tsx', 'scripts/start.ts'], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [this.child.stdout, this.child.stderr]) s?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exit.then(() => (exited = true));
    for (;;) {
      const m = pattern.exec(this.output);
      if (m) return m;
      if (exited) assert.fail(`npm start exited before printing ${pattern}:\n${this.tail()}`);
      if (Date.now() > deadline) assert.fail(`npm start did not print ${pattern} within ${timeoutMs / 1000} s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Like Ctrl-C in a terminal: the signal goes to the whole foreground process group. */
  signalGroup(signal: NodeJS.Signals): void {
    process.kill(-this.child.pid!, signal);
  }

  async exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`npm start did not exit within ${timeoutMs / 1000} s:\n${this.tail()}`)), timeoutMs).unref(),
    );
    return Promise.race([this.exit, timeout]);
  }

  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  killNow(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

describe('npm start', function () {
  this.timeout(150_000);
  let dataDir: string;
  let ports: Ports;
  let env: NodeJS.ProcessEnv;
  const runs: StartRun[] = [];

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'acc-start-'));
    // Postgres runs as the `postgres` user when we are root: it must be able to enter the directory.
    chmodSync(dataDir, 0o755);
    ports = { api: 0, temporal: 0, ui: 0, postgres: 0, emulator: 0, metrics: 0 };
    const taken = new Set<number>();
    for (const k of Object.keys(ports) as Array<keyof Ports>) ports[k] = await pickPort(taken);
    env = { ...process.env };
    // The embedded defaults: nothing external configured.
    for (const k of [
      'DATABASE_URL',
      'TEMPORAL_ADDRESS',
      'AZURE_TENANT_ID',
      'AZURE_CLIENT_ID',
      'AZURE_CLIENT_SECRET',
      'MDM_API_KEY',
      'ADMIN_API_KEY',
    ])
      delete env[k];
    Object.assign(env, {
      DATA_DIR: dataDir,
      API_PORT: String(ports.api),
      TEMPORAL_DEV_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      EMBEDDED_POSTGRES_PORT: String(ports.postgres),
      AZURE_EMULATOR_PORT: String(ports.emulator),
      WORKER_METRICS_PORT: String(ports.metrics),
      TEMPORAL_CLI_PATH: testEnv().temporalCli,
      LOG_LEVEL: 'warn',
    });
  });

  /** After a failed test: nothing of ours may outlive it, whatever the assertions said. */
  async function killLeftovers(): Promise<void> {
    for (const r of runs.splice(0)) {
      r.killNow();
      await r.exited(10_000).catch(() => undefined);
    }
    for (const p of processesMentioning(dataDir)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await new Promise((r) => setTimeout(r, 300));
  }

  afterEach(killLeftovers);

  after(async () => {
    await killLeftovers();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function assertNothingLeft(): Promise<void> {
    // Give the kernel a moment to reap the last ones.
    let left = processesMentioning(dataDir);
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      left = processesMentioning(dataDir);
    }
    assert.deepEqual(left, [], 'no process of the project is left');
    for (const [name, port] of Object.entries(ports)) assert.equal(await portOpen(port), false, `port ${port} (${name}) is closed`);
  }

  it('brings everything up on the embedded defaults, and Ctrl-C stops every process it started', async () => {
    const run = new StartRun(env);
    runs.push(run);
    const [, apiUrl] = await run.waitFor(/^ {2}API:\s+(http:\/\/127\.0\.0\.1:\d+)/m, 90_000);
    await run.waitFor(/Press Ctrl-C to stop everything/, 5_000);
    assert.equal(apiUrl, `http://127.0.0.1:${ports.api}`);
    const [, uiUrl] = await run.waitFor(/^ {2}Temporal UI:\s+(http:\/\/\S+)/m, 1_000);
    assert.equal(uiUrl, `http://127.0.0.1:${ports.ui}`);
    const [, mdmKey] = await run.waitFor(/^ {2}MDM key:\s+(\S+)/m, 1_000);
    const [, adminKey] = await run.waitFor(/^ {2}Admin key:\s+(\S+)/m, 1_000);
    assert.match(run.output, /^ {2}Try:\s+curl /m);

    const ready = await fetch(`${apiUrl}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    const ui = await fetch(uiUrl!);
    assert.equal(ui.status, 200);
    const devices = await fetch(`${apiUrl}/v1/devices`, { headers: { Authorization: `Bearer ${adminKey}` } });
    assert.equal(devices.status, 200, 'the printed admin key works');

    // What it keeps for the next start.
    const keys = JSON.parse(readFileSync(path.join(dataDir, 'keys.json'), 'utf8')) as { mdmApiKey: string; adminApiKey: string };
    assert.deepEqual([keys.mdmApiKey, keys.adminApiKey], [mdmKey, adminKey]);
    assert.equal(statSync(path.join(dataDir, 'keys.json')).mode & 0o777, 0o600);
    assert.ok(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')), 'the embedded Postgres cluster is under DATA_DIR');
    assert.ok(existsSync(path.join(dataDir, 'temporal', 'temporal.db')), "the dev server's data is under DATA_DIR");
    assert.ok(existsSync(path.join(dataDir, 'azure-emulator', 'tenant.json')));

    assert.ok(processesMentioning(dataDir).length >= 5, 'sanity: the children are found by their DATA_DIR');
    run.signalGroup('SIGINT');
    const { code, signal } = await run.exited(60_000);
    // npx re-raises the SIGINT it got once its child has exited; start.ts itself exited 0 after:
    assert.ok(code === 0 || signal === 'SIGINT', `exit ${code} ${signal}\n${run.tail()}`);
    assert.match(run.output, /^start +\| everything stopped$/m);
    assert.doesNotMatch(run.output, /killing everything now|did not stop within/, 'an orderly stop, nothing needed SIGKILL');
    await assertNothingLeft();
  });

  /** The process running `entry` (node itself, not npx or a shell). */
  function processRunning(entry: string): { pid: number; cmdline: string } | undefined {
    return processesMentioning(dataDir).find(
      (p) => p.cmdline.includes(entry) && !p.cmdline.includes('npx') && p.cmdline.startsWith(process.execPath),
    );
  }

  /** The pid of the `n`-th restart of child `name` (1-based), once npm start has printed it. */
  async function restartedPid(run: StartRun, name: string, n: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = [...run.output.matchAll(new RegExp(`^${name} +\\| restarted \\(pid (\\d+)\\)$`, 'gm'))].map((m) => Number(m[1]));
      if (pids.length >= n) return pids[n - 1]!;
      if (Date.now() > deadline) assert.fail(`no restart ${n} of ${name} within ${timeoutMs / 1000} s:\n${run.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until `/healthz` of the API answers 200 (after a restart of the API). */
  async function healthyAgain(apiUrl: string, run: StartRun, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await fetch(`${apiUrl}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) assert.fail(`the API did not answer /healthz again within ${timeoutMs / 1000} s:\n${run.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('starts again on what it kept; restarts a killed worker or API with backoff while the API keeps answering; stops (exit 1, one line) on the 5th worker crash within a minute', async () => {
    const first = readFileSync(path.join(dataDir, 'keys.json'), 'utf8');
    const tenant = readFileSync(path.join(dataDir, 'azure-emulator', 'tenant.json'), 'utf8');
    const run = new StartRun(env);
    runs.push(run);
    const [, apiUrl] = await run.waitFor(/^ {2}API:\s+(http:\/\/127\.0\.0\.1:\d+)/m, 90_000);
    assert.doesNotMatch(run.output, /initialising a Postgres cluster/, 'the cluster is kept');
    assert.doesNotMatch(run.output, /generated new API keys/);
    assert.equal(readFileSync(path.join(dataDir, 'keys.json'), 'utf8'), first, 'same keys');
    assert.equal(readFileSync(path.join(dataDir, 'azure-emulator', 'tenant.json'), 'utf8'), tenant, 'same tenant');
    assert.equal((await fetch(`${apiUrl}/readyz`)).status, 200);

    // 1. The worker is killed: restarted after 0.5 s; the API answers meanwhile.
    const worker = processRunning('workers/main.ts');
    assert.ok(worker, 'the worker process');
    process.kill(worker.pid, 'SIGKILL');
    await run.waitFor(
      /^worker +\| exited unexpectedly \(killed by SIGKILL\): restarting it in 0\.5 s \(restart 1; 5 crashes within 60 s stop everything\)$/m,
      10_000,
    );
    const health = await fetch(`${apiUrl}/healthz`);
    assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }], 'the API keeps answering while the worker is down');
    const newWorker = await restartedPid(run, 'worker', 1, 10_000);
    assert.notEqual(newWorker, worker.pid);
    assert.equal(processRunning('workers/main.ts')?.pid, newWorker, 'a new worker process runs');

    // 2. The API is killed: restarted, and answers again.
    const api = processRunning('api/main.ts');
    assert.ok(api, 'the API process');
    process.kill(api.pid, 'SIGKILL');
    await run.waitFor(
      /^api +\| exited unexpectedly \(killed by SIGKILL\): restarting it in 0\.5 s \(restart 1; 5 crashes within 60 s stop everything\)$/m,
      10_000,
    );
    await healthyAgain(apiUrl, run, 30_000);
    assert.equal((await fetch(`${apiUrl}/readyz`)).status, 200);
    assert.equal(run.child.exitCode, null, 'npm start still runs');

    // 3. Four more worker crashes within the minute: backoff doubles, the 5th stops everything.
    for (let crash = 2; crash <= 5; crash++) process.kill(await restartedPid(run, 'worker', crash - 1, 15_000), 'SIGKILL');
    const { code } = await run.exited(60_000);
    assert.equal(code, 1, run.tail());
    for (const [restart, delay] of [
      [2, '1 s'],
      [3, '2 s'],
      [4, '4 s'],
    ] as const) {
      assert.match(
        run.output,
        new RegExp(`^worker +\\| exited unexpectedly \\(killed by SIGKILL\\): restarting it in ${delay} \\(restart ${restart}; `, 'm'),
      );
    }
    assert.match(run.output, /^start +\| worker crashed 5 times within 60 s \(last: killed by SIGKILL\): stopping everything$/m);
    assert.doesNotMatch(run.output, /restart 5;/, 'no 5th restart');
    await assertNothingLeft();
  });

  it('stops everything (exit 1, one line naming it) when an infrastructure child dies', async () => {
    const run = new StartRun(env);
    runs.push(run);
    await run.waitFor(/^ {2}API:\s+(http:\/\/127\.0\.0\.1:\d+)/m, 90_000);
    const emulator = processRunning('emulator/main.ts');
    assert.ok(emulator, 'the emulator process');
    process.kill(emulator.pid, 'SIGKILL');
    const { code } = await run.exited(60_000);
    assert.equal(code, 1, run.tail());
    assert.match(run.output, /^start +\| azure-emulator exited unexpectedly \(killed by SIGKILL\): stopping everything$/m);
    assert.doesNotMatch(run.output, /azure-emulator +\| .*restarting it/, 'infrastructure is not restarted');
    await assertNothingLeft();
  });

  it('says which port is taken, and starts nothing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(ports.temporal, '127.0.0.1', resolve));
    try {
      const run = new StartRun(env);
      runs.push(run);
      const { code } = await run.exited(30_000);
      assert.equal(code, 1, run.tail());
      assert.match(
        run.output,
        new RegExp(
          `127\\.0\\.0\\.1:${ports.temporal} \\(the Temporal dev server\\) is already in use: .*TEMPORAL_ADDRESS=.*TEMPORAL_DEV_PORT`,
        ),
      );
      assert.doesNotMatch(run.output, /starting the dev server|starting the embedded server|starting the local Azure emulator/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    await assertNothingLeft();
  });
});
