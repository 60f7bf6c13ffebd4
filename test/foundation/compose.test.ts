/**
 * docker-compose.yml and the Dockerfile, checked by parsing (no Docker engine runs here): every
 * variable the config module reads for the worker and the API is wired to them, secrets only through
 * `${VAR:?}` substitutions, the resolved environment parses with the contract's defaults, Temporal
 * persists to the Postgres service with our search attributes registered, and the image is Debian
 * Node 20.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/project-root';
import YAML from 'yaml';
import { CONFIG_VARIABLES, LOCAL_ONLY_VARIABLES, PROCESS_VARIABLES, loadConfig, type Config } from '../../config';
import { WORKER_ENTRY, WORKER_ENV, WORKER_NODE_FLAGS } from '../../workers/launch';
import { SEARCH_ATTRIBUTE_CLI_ARGS } from '../../workflows/search-attributes';

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: string[];
}

interface ComposeFile {
  services: Record<string, Service>;
}

const compose = YAML.parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');

/** A service's environment as name → raw (uninterpolated) value. */
function rawEnv(service: string): Record<string, string> {
  const env = compose.services[service]?.environment;
  assert.ok(env, `service ${service} has an environment`);
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => [e.split('=')[0]!, e.includes('=') ? e.slice(e.indexOf('=') + 1) : '']));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

class MissingVariable extends Error {
  constructor(readonly variable: string) {
    super(`compose would refuse to start: ${variable} is not set`);
  }
}

/** Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}. */
function interpolate(value: string, host: Record<string, string | undefined>): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i]!;
    if (ch !== '$') {
      out += ch;
      i += 1;
      continue;
    }
    const next = value[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = value.indexOf('}', i);
      assert.ok(end > 0, `unterminated \${ in ${value}`);
      const expr = value.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?)(.*))?$/s.exec(expr);
      assert.ok(m, `unsupported substitution \${${expr}}`);
      const [, name, op, arg = ''] = m as unknown as [string, string, string | undefined, string | undefined];
      const v = host[name];
      const empty = v === undefined || v === '';
      if (op === ':-') out += empty ? arg : v;
      else if (op === '-') out += v === undefined ? arg : v;
      else if (op === ':?') {
        if (empty) throw new MissingVariable(name);
        out += v;
      } else if (op === '?') {
        if (v === undefined) throw new MissingVariable(name);
        out += v;
      } else out += v ?? '';
      i = end + 1;
      continue;
    }
    const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(value.slice(i + 1));
    if (bare) {
      out += host[bare[0]] ?? '';
      i += 1 + bare[0].length;
      continue;
    }
    out += '$';
    i += 1;
  }
  return out;
}

function resolvedEnv(service: string, host: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(rawEnv(service)).map(([k, v]) => [k, interpolate(v, host)]));
}

/** What an operator must provide; everything else has a default in the compose file. */
const SECRETS = {
  POSTGRES_PASSWORD: 'postgres-password-0123456789',
  MDM_API_KEY: 'mdm-key-0123456789abcdefghijklmnop',
  ADMIN_API_KEY: 'admin-key-0123456789abcdefghijklmnop',
  OPERATOR_API_KEY: 'operator-key-0123456789abcdefghijklmnop',
  AZURE_TENANT_ID: '11111111-2222-4333-8444-555555555555',
  AZURE_CLIENT_ID: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  AZURE_CLIENT_SECRET: 'client-secret',
};

const PROCESSES = Object.keys(PROCESS_VARIABLES) as Array<keyof typeof PROCESS_VARIABLES>;
const SERVICE_OF: Record<keyof typeof PROCESS_VARIABLES, string> = { worker: 'worker', api: 'api' };
const ENTRY_OF: Record<keyof typeof PROCESS_VARIABLES, string> = { worker: 'workers/main.ts', api: 'api/main.ts' };

describe('docker-compose.yml and Dockerfile', () => {
  it('has the production topology', () => {
    for (const s of ['postgres', 'temporal', 'temporal-setup', 'temporal-ui', 'worker', 'api']) {
      assert.ok(compose.services[s], `service ${s}`);
    }
    assert.match(compose.services.postgres!.image ?? '', /^postgres:16(\.|$|-)/);
    assert.match(compose.services.temporal!.image ?? '', /^temporalio\/auto-setup:\d+\.\d+\.\d+/);
    assert.match(compose.services['temporal-ui']!.image ?? '', /^temporalio\/ui:\d+\.\d+\.\d+/);
  });

  it('classifies every variable of the config module (a new one cannot be forgotten here)', () => {
    const used = new Set<string>([
      ...PROCESSES.flatMap((p) => [...PROCESS_VARIABLES[p].required, ...PROCESS_VARIABLES[p].optional]),
      ...LOCAL_ONLY_VARIABLES,
    ]);
    const unclassified = CONFIG_VARIABLES.filter((v) => !used.has(v));
    assert.deepEqual(unclassified, [], 'add them to PROCESS_VARIABLES or LOCAL_ONLY_VARIABLES in config/index.ts');
    for (const v of used) assert.ok((CONFIG_VARIABLES as string[]).includes(v), `${v} is not read by config/index.ts`);
  });

  for (const proc of PROCESSES) {
    it(`wires every variable the ${proc} reads to the ${SERVICE_OF[proc]} service`, () => {
      const env = rawEnv(SERVICE_OF[proc]);
      const { required, optional } = PROCESS_VARIABLES[proc];
      const missing = [...required, ...optional].filter((v) => !(v in env));
      assert.deepEqual(missing, [], `${SERVICE_OF[proc]} lacks these variables`);
      for (const v of required) assert.notEqual(env[v]!.trim(), '', `${v} has a value`);
      // Node's own variable (docs/http-contract.md, Configuration).
      assert.ok('NODE_EXTRA_CA_CERTS' in env, 'NODE_EXTRA_CA_CERTS is passed through');
      // Local-only variables have no business in a deployment.
      for (const v of LOCAL_ONLY_VARIABLES) assert.ok(!(v in env), `${v} is only for npm start`);
    });

    it(`runs the ${proc} from the Dockerfile with ${ENTRY_OF[proc]}`, () => {
      const s = compose.services[SERVICE_OF[proc]]!;
      const build = typeof s.build === 'string' ? { context: s.build } : s.build;
      assert.ok(build, 'built, not pulled');
      assert.equal(
        path.resolve(PROJECT_ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile'),
        path.join(PROJECT_ROOT, 'Dockerfile'),
      );
      const command = Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');
      assert.ok(command.includes(ENTRY_OF[proc]), `command ${command}`);
      assert.ok(existsSync(path.join(PROJECT_ROOT, ENTRY_OF[proc])));
    });

    it(`gives the ${proc} an environment its configuration accepts, with the contract's defaults`, () => {
      const env = resolvedEnv(SERVICE_OF[proc], SECRETS);
      const config = loadConfig(env);
      assert.ok(config.azure, 'Azure credentials');
      assert.equal(config.azure.tenantId, SECRETS.AZURE_TENANT_ID);
      assert.equal(config.azure.clientSecret, SECRETS.AZURE_CLIENT_SECRET);
      assert.equal(config.temporal.address, 'temporal:7233');
      assert.ok(config.databaseUrl);
      const db = new URL(config.databaseUrl);
      assert.equal(db.hostname, 'postgres', 'the postgres service');
      assert.equal(decodeURIComponent(db.password), SECRETS.POSTGRES_PASSWORD);
      if (proc === 'api') {
        assert.equal(config.keys.mdm, SECRETS.MDM_API_KEY);
        assert.equal(config.keys.admin, SECRETS.ADMIN_API_KEY);
        assert.equal(config.keys.operator, SECRETS.OPERATOR_API_KEY);
      }
      // Every default in the compose file is the config module's own default.
      const defaults = loadConfig({
        AZURE_TENANT_ID: SECRETS.AZURE_TENANT_ID,
        AZURE_CLIENT_ID: SECRETS.AZURE_CLIENT_ID,
        AZURE_CLIENT_SECRET: SECRETS.AZURE_CLIENT_SECRET,
      });
      const pick = (c: Readonly<Config>) => ({
        apiPort: c.apiPort,
        workerMetricsPort: c.workerMetricsPort,
        namespace: c.temporal.namespace,
        taskQueue: c.temporal.taskQueue,
        authorityHost: c.azure?.authorityHost,
        graphBaseUrl: c.azure?.graphBaseUrl,
        requestTimeoutMs: c.azure?.requestTimeoutMs,
        weeklyReportCron: c.weeklyReportCron,
        heartbeatCron: c.heartbeatCron,
        azureMaxCallsPerSecond: c.azureMaxCallsPerSecond,
        sweepDevicesPerSecond: c.sweepDevicesPerSecond,
        logLevel: c.logLevel,
      });
      assert.deepEqual(pick(config), pick(defaults));
    });
  }

  it('starts the worker with its Node flags (the heap cap) and its environment (malloc arenas) in docker-compose.yml and in npm run worker, as npm start and the benchmarks do', () => {
    const composeCommand = (compose.services.worker!.command as string[]).join(' ');
    const npmScript = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts.worker!;
    for (const launcher of [composeCommand, npmScript]) {
      assert.ok(launcher.includes(`${WORKER_NODE_FLAGS.join(' ')} --import tsx ${WORKER_ENTRY}`), launcher);
    }
    const composeEnv = resolvedEnv('worker', SECRETS);
    const npmEnv = npmScript.slice(0, npmScript.indexOf('node ') + 1);
    for (const [name, value] of Object.entries(WORKER_ENV)) {
      assert.equal(composeEnv[name], value, `docker-compose.yml: worker's ${name}`);
      // The operator's own value wins, as in docker-compose.yml.
      assert.ok(npmEnv.includes(`${name}=\${${name}:-${value}} `), npmScript);
    }
  });

  it('takes every secret only from a ${VAR:?} substitution, never a literal', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.environment) continue;
      for (const [k, v] of Object.entries(rawEnv(name))) {
        if (!/KEY|SECRET|PASSWORD|PWD/.test(k)) continue;
        assert.match(v, /^\$\{[A-Z_]+:\?[^}]*\}$/, `${name}.${k} must be \${VAR:?message}`);
      }
    }
    const dbUrl = rawEnv('api').DATABASE_URL!;
    assert.match(dbUrl, /\$\{POSTGRES_PASSWORD:\?[^}]*\}/, 'the database password in DATABASE_URL');
    assert.doesNotMatch(dbUrl, /:\/\/[^$:]+:[^$@]+@/, 'no literal password in DATABASE_URL');
  });

  it('refuses to start without each secret', () => {
    for (const secret of Object.keys(SECRETS)) {
      const host: Record<string, string | undefined> = { ...SECRETS, [secret]: undefined };
      const refused = ['worker', 'api', 'postgres', 'temporal'].some((s) => {
        try {
          resolvedEnv(s, host);
          return false;
        } catch (err) {
          if (err instanceof MissingVariable) return err.variable === secret;
          throw err;
        }
      });
      assert.ok(refused, `without ${secret} compose must refuse to start`);
    }
  });

  it('runs Temporal on the Postgres service, with our search attributes registered before the worker and API start', () => {
    const temporal = resolvedEnv('temporal', SECRETS);
    assert.match(temporal.DB ?? '', /^postgres/);
    assert.equal(temporal.POSTGRES_SEEDS, 'postgres');
    assert.equal(temporal.POSTGRES_PWD, SECRETS.POSTGRES_PASSWORD);

    const setup = compose.services['temporal-setup']!;
    assert.match(setup.image ?? '', /^temporalio\/admin-tools:/);
    const setupEnv = resolvedEnv('temporal-setup', SECRETS);
    assert.equal(setupEnv.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.deepEqual((setupEnv.SEARCH_ATTRIBUTES ?? '').split(/\s+/).filter(Boolean), SEARCH_ATTRIBUTE_CLI_ARGS);
    const script = Array.isArray(setup.command) ? setup.command.join('\n') : (setup.command ?? '');
    const shell = interpolate(script, {});
    assert.match(shell, /for sa in \$SEARCH_ATTRIBUTES/);
    assert.match(shell, /temporal operator search-attribute create .*--name "\$name" --type "\$type"/);

    for (const s of ['worker', 'api']) {
      const deps = compose.services[s]!.depends_on as Record<string, { condition?: string }>;
      assert.equal(deps['temporal-setup']?.condition, 'service_completed_successfully', `${s} waits for the search attributes`);
      assert.equal(deps.postgres?.condition, 'service_healthy');
    }
    const ui = resolvedEnv('temporal-ui', SECRETS);
    assert.equal(ui.TEMPORAL_ADDRESS, 'temporal:7233');
  });

  it('builds the image on Debian Node 20 with npm ci and runs it as a non-root user', () => {
    const from = /^FROM\s+(\S+)/m.exec(dockerfile)?.[1];
    assert.ok(from, 'a FROM line');
    assert.match(
      from,
      /^(docker\.io\/(library\/)?)?node:20(\.\d+){0,2}-(bookworm|bullseye|trixie)(-slim)?(@sha256:[0-9a-f]{64})?$/,
      `Debian-based Node 20, got ${from}`,
    );
    assert.match(dockerfile, /^RUN\s+npm ci\b/m);
    assert.match(dockerfile, /^USER\s+(node|\d+)/m);
    const ignore = readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const p of ['node_modules', '.data', '.tools']) assert.ok(ignore.includes(p), `.dockerignore keeps out ${p}`);
  });
});
