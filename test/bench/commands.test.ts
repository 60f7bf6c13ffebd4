/**
 * Every command docs/benchmarks.md documents runs from a fresh shell: a minimal environment (PATH
 * and HOME only, as `env -i` gives; PATH reaches `temporal` the way .ci/run puts it there), at a
 * tiny size, and exits 0 with its summary. The commands run side by side (each brings up its own
 * stack on free ports) to keep the whole under a few minutes. `npm run simulate` runs against
 * `npm start`, started the same way on free ports (another stack on the machine may hold the
 * default ones). Sizes here are smoke sizes; the figures of docs/benchmarks.md come from the full ones.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config';
import { PROJECT_ROOT } from '../../lib/project-root';
import { findTemporalCli } from '../../lib/temporal-cli';
import { freePort } from '../../lib/ports';

interface Ran {
  code: number | null;
  out: string;
}

const DOCS = readFileSync(path.join(PROJECT_ROOT, 'docs', 'benchmarks.md'), 'utf8');

/** PATH and HOME only; `temporal` reachable as on a clean CI box. */
function freshEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const temporal = findTemporalCli(loadConfig().temporal.cliPath);
  if (!temporal) throw new Error('no temporal CLI: the bench commands need it (.ci/run installs it)');
  const dirs = [path.dirname(path.resolve(temporal)), path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'];
  return { PATH: [...new Set(dirs)].join(':'), HOME: process.env.HOME ?? os.homedir(), ...extra };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      out += `\n[killed after ${timeoutMs} ms]`;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const tail = (r: Ran) => r.out.split('\n').slice(-30).join('\n');

/** `npm start` on free ports in a fresh environment; resolves once it printed "Ready.". */
async function startNpmStart(dataDir: string): Promise<{ apiUrl: string; stop: () => Promise<void> }> {
  const ports = {
    API_PORT: await freePort(),
    TEMPORAL_DEV_PORT: await freePort(),
    TEMPORAL_UI_PORT: await freePort(),
    AZURE_EMULATOR_PORT: await freePort(),
    EMBEDDED_POSTGRES_PORT: await freePort(),
    WORKER_METRICS_PORT: await freePort(),
  };
  const env = freshEnv({ DATA_DIR: dataDir, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) });
  const child = spawn('npm', ['start'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready within 150 s:\n${out.slice(-3000)}`)), 150_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}):\n${out.slice(-3000)}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null) return;
    process.kill(-child.pid!, 'SIGTERM');
    const kill = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
    await exited;
    clearTimeout(kill);
  };
  try {
    await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  return { apiUrl: `http://127.0.0.1:${ports.API_PORT}`, stop };
}

describe('the benchmark commands of docs/benchmarks.md, from a fresh shell at a tiny size', function () {
  this.timeout(600_000);
  const results = mkdtempSync(path.join(os.tmpdir(), 'acc-bench-commands-'));
  const ran = new Map<string, Ran>();

  before(async function () {
    const dataDir = path.join(results, 'data');
    const simulate = async (): Promise<Ran> => {
      const stack = await startNpmStart(dataDir);
      try {
        return await run(
          'npm',
          ['run', 'simulate', '--', '--devices', '5', '--rate', '5', '--duration', '3', '--api', stack.apiUrl],
          freshEnv({ DATA_DIR: dataDir }),
          120_000,
        );
      } finally {
        await stack.stop();
      }
    };
    const commands: Array<[string, () => Promise<Ran>]> = [
      [
        'npm run bench',
        () =>
          run(
            'npm',
            ['run', 'bench', '--', '--tiny', '--temporal-profile', path.join(results, 'temporal-profile'), '--results-dir', results],
            freshEnv(),
            400_000,
          ),
      ],
      [
        'npx tsx bench/sweep.ts',
        () => run('npx', ['tsx', 'bench/sweep.ts', '--devices', '10', '--results-dir', results], freshEnv(), 400_000),
      ],
      [
        'npx tsx bench/sweep.ts --devices 10000 --calls-per-second 10000 --unthrottled',
        () =>
          run(
            'npx',
            [
              'tsx',
              'bench/sweep.ts',
              '--devices',
              '10',
              '--calls-per-second',
              '10000',
              '--unthrottled',
              '--no-floor',
              '--results-dir',
              results,
            ],
            freshEnv(),
            400_000,
          ),
      ],
      [
        'npx tsx bench/read-path.ts',
        () => run('npx', ['tsx', 'bench/read-path.ts', '--devices', '50', '--rounds', '1', '--seconds', '1'], freshEnv(), 300_000),
      ],
      [
        'npx tsx bench/scale-sim.ts',
        () =>
          run(
            'npx',
            [
              'tsx',
              'bench/scale-sim.ts',
              '--devices',
              '500',
              '--other-tenants',
              '1',
              '--other-devices',
              '50',
              '--paced-seconds',
              '1',
              '--results-dir',
              results,
            ],
            freshEnv(),
            300_000,
          ),
      ],
      ['npx tsx bench/replay-cost.ts', () => run('npx', ['tsx', 'bench/replay-cost.ts', '1'], freshEnv(), 300_000)],
      [
        'npx tsx bench/floor-shape.ts',
        () => run('npx', ['tsx', 'bench/floor-shape.ts', '--events', '10', '--rounds', '1', '--results-dir', results], freshEnv(), 300_000),
      ],
      [
        'npx tsx bench/floor-shape.ts --sweep',
        () =>
          run(
            'npx',
            ['tsx', 'bench/floor-shape.ts', '--sweep', '--events', '10', '--rounds', '1', '--results-dir', results],
            freshEnv(),
            300_000,
          ),
      ],
      [
        'npx tsx bench/transport-cost.ts',
        () => run('npx', ['tsx', 'bench/transport-cost.ts', '--requests', '20', '--rounds', '1'], freshEnv(), 300_000),
      ],
      [
        'npx tsx bench/client-cost.ts',
        () => run('npx', ['tsx', 'bench/client-cost.ts', '--uploads', '10', '--rounds', '2', '--against', '.'], freshEnv(), 300_000),
      ],
      [
        'npx tsx bench/replicas.ts',
        () => run('npx', ['tsx', 'bench/replicas.ts', '--events', '20', '--results-dir', results], freshEnv(), 400_000),
      ],
      [
        'npx tsx bench/idle-fleet.ts',
        () =>
          run(
            'npx',
            [
              'tsx',
              'bench/idle-fleet.ts',
              '--devices',
              '40',
              '--step',
              '20',
              '--reported',
              '5',
              '--settle-seconds',
              '1',
              '--results-dir',
              results,
            ],
            freshEnv(),
            400_000,
          ),
      ],
      [
        'npx tsx bench/tenant-budget/noisy-neighbour.ts',
        () =>
          run(
            'npx',
            [
              'tsx',
              'bench/tenant-budget/noisy-neighbour.ts',
              '--devices',
              '20',
              '--events',
              '6',
              '--events-per-second',
              '2',
              '--results-dir',
              results,
            ],
            freshEnv(),
            400_000,
          ),
      ],
      [
        'npx tsx bench/tenant-budget/fairness-probe.ts',
        () => run('npx', ['tsx', 'bench/tenant-budget/fairness-probe.ts', '20', '40', '10'], freshEnv(), 300_000),
      ],
      [
        'npx tsx bench/tenant-budget/poller-cost.ts',
        () => run('npx', ['tsx', 'bench/tenant-budget/poller-cost.ts', '3'], freshEnv(), 300_000),
      ],
      ['npm run simulate', simulate],
    ];
    await Promise.all(
      commands.map(async ([name, fn]) => ran.set(name, await fn().catch((err: Error) => ({ code: -1, out: err.message })))),
    );
  });

  after(() => rmSync(results, { recursive: true, force: true }));

  it('documents exactly the commands this test runs', () => {
    for (const name of ran.keys()) assert.ok(DOCS.includes(name), `docs/benchmarks.md does not show ${name}`);
    // …and runs every command the docs' command block shows.
    const block = DOCS.slice(DOCS.indexOf('```sh'), DOCS.indexOf('```', DOCS.indexOf('```sh') + 5));
    const documented = block
      .split('\n')
      .map((line) => /^(npx tsx \S+|npm run \w+)/.exec(line)?.[1])
      .filter((c): c is string => c !== undefined);
    assert.ok(documented.length >= 10, `found only ${documented.length} commands in docs/benchmarks.md's command block`);
    for (const command of documented) assert.ok(ran.has(command), `docs/benchmarks.md shows ${command}, which this test does not run`);
  });

  it('npm run bench: every scenario, its table printed, its results file written', () => {
    const r = ran.get('npm run bench')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /\| \*\*read path\*\*/);
    assert.match(r.out, /wrk|node load/);
    assert.ok(readdirSync(results).some((f) => /-tiny\.json$/.test(f)));
    // --temporal-profile: the server's CPU per event by what it served, named from its Go symbols.
    assert.match(r.out, /\| HistoryService\.RespondWorkflowTaskCompleted \| [\d.]+ \| [\d.]+ \|/);
    assert.match(
      r.out,
      /New connections to Microsoft \(a TLS handshake each\) per event: [\d.]+ in the latency run, [\d.]+ in the throughput run/,
    );
  });

  it('npx tsx bench/sweep.ts: the sweep, its floor and the bound of the budget (its own CA without NODE_EXTRA_CA_CERTS)', () => {
    const r = ran.get('npx tsx bench/sweep.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /weekly rows: 10 for 10 devices/);
    // The worker was restarted before the sweep: each device's first task replays its history.
    const tasks = /device workflow tasks: ([\d.]+) per device, ([\d.]+) of them replaying/.exec(r.out);
    assert.ok(tasks, tail(r));
    assert.ok(Number(tasks[1]) >= 2 && Number(tasks[2]) >= 1, tasks[0]);
    assert.match(r.out, /floor \(signal to an evicted workflow \+ one activity/);
    assert.match(r.out, /the budget's bound/);
  });

  it('npx tsx bench/sweep.ts --unthrottled: the same sweep unpaced, the emulator answering every call', () => {
    const r = ran.get('npx tsx bench/sweep.ts --devices 10000 --calls-per-second 10000 --unthrottled')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /weekly rows: 10 for 10 devices/);
    assert.match(r.out, /sweep pacing 4500\/s/);
    assert.match(r.out, /the emulator unthrottled/);
  });

  it('npx tsx bench/read-path.ts: ours and the floor, with the ratio', () => {
    const r = ran.get('npx tsx bench/read-path.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /round 1 floor: \d+ req\/s/);
    assert.match(r.out, /round 1 ours: \d+ req\/s/);
    assert.match(r.out, /"ratios"/);
  });

  it('npx tsx bench/scale-sim.ts: the whole tenant walked, then paced', () => {
    const r = ran.get('npx tsx bench/scale-sim.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /unpaced walk: 500 devices/);
    assert.match(r.out, /paced: \d+ devices/);
  });

  it('npx tsx bench/replay-cost.ts: replays the recorded histories', () => {
    const r = ran.get('npx tsx bench/replay-cost.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /ms of CPU per history event|per event/i);
    const promises = /([\d.]+) promises created in the sandbox per event/.exec(r.out);
    assert.ok(promises && Number(promises[1]) > 0, tail(r));
  });

  it("npx tsx bench/floor-shape.ts: the floor and the device workflow's shape, each variant with its ratio", () => {
    const r = ran.get('npx tsx bench/floor-shape.ts')!;
    assert.equal(r.code, 0, tail(r));
    for (const variant of ['floor', 'device shape', 'shape without upserts', 'shape without local activities'])
      assert.match(r.out, new RegExp(`^  ${variant}: [\\d.]+/s, \\d+ % of the floor; \\d+ history events`, 'm'));
    // The shape writes more history than the floor: its markers and upserts are really there.
    const events = (variant: string) => Number(new RegExp(`^  ${variant}: .*?; (\\d+) history events`, 'm').exec(r.out)?.[1]);
    assert.ok(events('device shape') > events('floor'), r.out);
    assert.ok(readdirSync(results).some((f) => /^floor-shape-\d.*\.json$/.test(f)));
  });

  it("npx tsx bench/floor-shape.ts --sweep: the sweep's floor and the shaped device's weekly report, replayed", () => {
    const r = ran.get('npx tsx bench/floor-shape.ts --sweep')!;
    assert.equal(r.code, 0, tail(r));
    const before = (variant: string) =>
      Number(new RegExp(`^  ${variant}: [\\d.]+/s, \\d+ % of the floor; (\\d+) history events`, 'm').exec(r.out)?.[1]);
    // The shaped device has its first report behind it when the sweep reaches it; the floor only its start.
    assert.ok(before('device shape') > before('floor') && before('floor') > 0, r.out);
    assert.ok(readdirSync(results).some((f) => /^floor-shape-sweep-.*\.json$/.test(f)));
  });

  it("npx tsx bench/client-cost.ts: a first upload's client and emulator CPU, this checkout beside another (its own CA)", () => {
    const r = ran.get('npx tsx bench/client-cost.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /this checkout: client [\d.]+ ms, emulator [\d.]+ ms of CPU per first upload \(median of 2 rounds of 10\)/);
    assert.match(r.out, /--against \.: client [\d.]+ ms, emulator [\d.]+ ms of CPU per first upload/);
  });

  it("npx tsx bench/transport-cost.ts: each transport's CPU per call (its own CA without NODE_EXTRA_CA_CERTS)", () => {
    const r = ran.get('npx tsx bench/transport-cost.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(
      r.out,
      /round 1, µs of client CPU per call: fetch \d+; httpsSend \d+; graph, SDK default \(fetch\) \d+; graph, ours \(https\) \d+/,
    );
    assert.match(r.out, /"medianMicrosecondsPerCall":\{"fetch":\d+,"httpsSend":\d+/);
  });

  it('npx tsx bench/replicas.ts: 2 workers and 2 APIs, no event lost, the budget held, no 429', () => {
    const r = ran.get('npx tsx bench/replicas.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /20 of 20 events Successful \(0 not Successful/);
    assert.match(r.out, /429s: 0/);
  });

  it('npx tsx bench/idle-fleet.ts: the worker measured at each step of the fleet', () => {
    const r = ran.get('npx tsx bench/idle-fleet.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /20 open: worker RSS \d+ MiB/);
    assert.match(r.out, /40 open: worker RSS \d+ MiB/);
  });

  it("npx tsx bench/tenant-budget/noisy-neighbour.ts: B alone, then B during A's sweep, the budget held", () => {
    const r = ran.get('npx tsx bench/tenant-budget/noisy-neighbour.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /B alone: p50 \d+ ms/);
    assert.match(r.out, /B during A's sweep: p50 \d+ ms/);
    assert.match(r.out, /"throttled":0/);
  });

  it('npx tsx bench/tenant-budget/fairness-probe.ts: each mode, each tenant', () => {
    const r = ran.get('npx tsx bench/tenant-budget/fairness-probe.ts')!;
    assert.equal(r.code, 0, tail(r));
    for (const mode of ['queue-limit', 'fairness-key-limit']) assert.match(r.out, new RegExp(`"mode":"${mode}".*"tenant":"B"`));
  });

  it('npx tsx bench/tenant-budget/poller-cost.ts: memory with and without a Worker per tenant', () => {
    const r = ran.get('npx tsx bench/tenant-budget/poller-cost.ts')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /"label":"one idle Worker per tenant","workers":3,"rssMiB":\d+/);
  });

  it('npm run simulate against npm start: a summary, with events accepted', () => {
    const r = ran.get('npm run simulate')!;
    assert.equal(r.code, 0, tail(r));
    assert.match(r.out, /accepted\s+[1-9]/);
  });
});
