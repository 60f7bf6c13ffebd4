import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { testEnv } from '../support/env';
import { LATEST_DEVICE_WORKFLOW_VERSION } from '../../workflows/device';
import { HISTORIES_DIR, historyFiles } from '../support/histories';
import { REPLAY_SINKS } from '../../workers/read-model-sink';

describe('replay guard: recorded device-workflow histories replay on the current code', function () {
  this.timeout(180_000);

  it('replays every history in test/histories without a determinism error', async () => {
    const files = historyFiles();
    for (const version of [LATEST_DEVICE_WORKFLOW_VERSION]) {
      const n = files.filter((f) => f.startsWith(`${version}/`)).length;
      assert.ok(n >= 10, `expected the recorded scenario histories of ${version}, found ${n}`);
    }
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, f), 'utf8'))),
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await testEnv().workflowBundle(), sinks: REPLAY_SINKS },
      histories,
    )) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
