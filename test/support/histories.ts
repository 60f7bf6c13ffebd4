/**
 * The replay guard: histories recorded from the device-workflow scenarios live in test/histories/,
 * one folder per workflow version (named after its newest patch, or its workflow type), and every
 * folder is replayed against the current workflow code on every run (test/replay). After an
 * intentional change made with patched(): name the new patch in LATEST_DEVICE_WORKFLOW_VERSION and
 * record its folder with RECORD_HISTORIES=1 npm test; the older folders stay, so runs started on
 * older code keep replaying.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LATEST_DEVICE_WORKFLOW_VERSION } from '../../workflows/device';
import { testEnv } from './env';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'histories');
/** Where RECORD_HISTORIES=1 writes: the folder of the current workflow version. */
export const CURRENT_HISTORIES_DIR = path.join(HISTORIES_DIR, LATEST_DEVICE_WORKFLOW_VERSION);
export const recording = process.env.RECORD_HISTORIES === '1';

/** Every recorded history, by its path under test/histories. */
export function historyFiles(): string[] {
  return readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort();
}

function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80);
}

/** Saves the history of each workflow the test touched (every run of it: continue-as-new chains too). */
export async function recordHistories(testTitle: string, workflowIds: Iterable<string>): Promise<void> {
  const env = testEnv();
  const client = env.temporalClient;
  mkdirSync(CURRENT_HISTORIES_DIR, { recursive: true });
  let n = 0;
  for (const workflowId of workflowIds) {
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      // The CLI writes the standard JSON history format (the SDK's historyToJSON cannot encode
      // every event attribute this server version sends).
      const json = execFileSync(
        env.temporalCli,
        [
          'workflow',
          'show',
          '--address',
          env.temporalAddress,
          '--namespace',
          env.namespace,
          '--workflow-id',
          workflowId,
          '--run-id',
          execution.runId,
          '--output',
          'json',
        ],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
      n += 1;
      writeFileSync(path.join(CURRENT_HISTORIES_DIR, `${slug(testTitle)}-${n}.json`), json.endsWith('\n') ? json : json + '\n');
    }
  }
}
