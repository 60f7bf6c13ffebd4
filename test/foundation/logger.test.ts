/**
 * The logs' destination (lib/logger.ts): lines go out in batches, asynchronously, none lost. A line
 * alone still reaches its file without another line behind it; a process that exits writes what waits.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_BATCH_BYTES, batchedDestination, createLogger } from '../../lib/logger';
import { waitFor } from '../support/device-harness';

const PROJECT_ROOT = path.resolve(__dirname, '../..');

describe('log destination', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acc-logger-'));
  const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

  it('holds a line back, then writes it without a second line to push it out', async () => {
    const file = path.join(dir, 'alone.log');
    const logger = createLogger('info', { service: 'test' }, batchedDestination(openSync(file, 'w')));
    logger.info({ deviceId: 'dev-1' }, 'one line');
    assert.deepEqual(lines(file), [], 'nothing is written in the call');
    await waitFor('the line in the file', async () => lines(file).length === 1, 5_000);
    const line = JSON.parse(lines(file)[0]!) as Record<string, unknown>;
    assert.equal(line.msg, 'one line');
    assert.equal(line.deviceId, 'dev-1');
  });

  it('writes every line of a burst larger than a batch, in order', async () => {
    const file = path.join(dir, 'burst.log');
    const logger = createLogger('info', {}, batchedDestination(openSync(file, 'w')));
    const count = Math.ceil((LOG_BATCH_BYTES * 5) / 60);
    for (let i = 0; i < count; i++) logger.info({ i }, 'burst');
    await waitFor(`${count} lines in the file`, async () => lines(file).length === count, 5_000);
    assert.deepEqual(
      lines(file).map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: count }, (_, i) => i),
    );
  });

  it('writes what waits when the process exits', () => {
    const script = `
      const { createLogger } = require(${JSON.stringify(path.join(PROJECT_ROOT, 'lib/logger.ts'))});
      const logger = createLogger('info', { service: 'exit-test' });
      logger.info('last words');
      process.exit(0);
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /"msg":"last words"/);
  });
});
