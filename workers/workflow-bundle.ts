/**
 * The workflow bundle the worker process runs, built once per version of the workflow code in a
 * short-lived child process and kept on disk, so the worker never runs webpack itself: bundling in
 * the worker leaves some 130 MiB in its heap for good and costs seconds at every start.
 *
 * The file is named by a hash of everything that goes into the bundle (workflows/, domain/, the
 * lockfile), so a code change builds a new one and two workers starting together write the same file.
 * It lives under node_modules/.cache (the Dockerfile builds it into the image); when that is not
 * writable, under the system's temporary directory.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../lib/project-root';

/** The worker's `workflowsPath`: every workflow type the task queue runs. */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * How every build of the workflows is made (the worker's, the tests', the benches'). The workflow
 * modules are preloaded: evaluated once when the worker's sandbox starts and shared by every run,
 * instead of once per new run (a new device, every continue-as-new, every replay after an eviction).
 * That is safe only because they keep no state at module scope: every run's state lives inside its
 * own function (docs/architecture.md, "The workflow modules are loaded once per worker").
 */
export const WORKFLOW_BUNDLE_OPTIONS = { workflowsPath: WORKFLOWS_PATH, preloadModules: [WORKFLOWS_PATH] };
const BUNDLE_SOURCES = ['workflows', 'domain'];
const CACHE_DIRS = [
  path.join(PROJECT_ROOT, 'node_modules', '.cache', 'azure-compliance-connector'),
  path.join(os.tmpdir(), 'azure-compliance-connector'),
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|js|json)$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Hash of the bundle's inputs: the workflow and domain sources, the exact dependency versions and the build options. */
export function workflowBundleHash(): string {
  const h = createHash('sha256');
  // This file too: it holds how the bundle is built (WORKFLOW_BUNDLE_OPTIONS).
  const files = [
    ...BUNDLE_SOURCES.flatMap((d) => sourceFiles(path.join(PROJECT_ROOT, d))),
    path.join(PROJECT_ROOT, 'package-lock.json'),
    __filename,
  ];
  for (const f of files) h.update(path.relative(PROJECT_ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Builds the bundle into `outFile` (atomically: a reader never sees half a file). */
export async function buildWorkflowBundle(outFile: string): Promise<void> {
  const { code } = await bundleWorkflowCode(WORKFLOW_BUNDLE_OPTIONS);
  mkdirSync(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, outFile);
}

function runBundler(outFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // The same Node with the same loader flags (tsx) as this process.
    const child = spawn(process.execPath, [...process.execArgv, __filename, outFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4_000)));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 && existsSync(outFile) ? resolve() : reject(new Error(`bundling the workflows failed (exit ${code}): ${stderr.trim()}`)),
    );
  });
}

/** The path of the current bundle, building it first when no cache directory holds it yet. */
export async function prebuiltWorkflowBundle(): Promise<{ codePath: string; built: boolean }> {
  const name = `workflow-bundle-${workflowBundleHash()}.js`;
  for (const dir of CACHE_DIRS) {
    const file = path.join(dir, name);
    if (existsSync(file)) return { codePath: file, built: false };
  }
  let lastError: unknown;
  for (const dir of CACHE_DIRS) {
    try {
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, name);
      await runBundler(file);
      // Bundles of earlier code are never used again (a running worker has read its own already).
      for (const old of readdirSync(dir)) {
        if (old !== name && /^workflow-bundle-[0-9a-f]+\.js$/.test(old)) rmSync(path.join(dir, old), { force: true });
      }
      return { codePath: file, built: true };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

// `tsx workers/workflow-bundle.ts [outFile]`: the child process above, or a build step (Dockerfile).
if (require.main === module) {
  const out = process.argv[2] ?? path.join(CACHE_DIRS[0]!, `workflow-bundle-${workflowBundleHash()}.js`);
  buildWorkflowBundle(out).then(
    () => process.stdout.write(`${out}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
