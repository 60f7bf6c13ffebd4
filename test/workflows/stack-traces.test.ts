import assert from 'node:assert/strict';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOW_THREAD_STACK_TRACE_LIMIT } from '../../workers/worker';
import { testEnv, uniqueName } from '../support/env';
import { registration, seedDevice, sendEvent, waitFor, waitForDevice, withWorker, workflowHandle } from '../support/device-harness';

describe('stack traces in the workflow thread', function () {
  this.timeout(120_000);

  it('are cut to the workflow thread limit in the sandbox, and the main thread keeps its own', async () => {
    const mainThreadLimit = Error.stackTraceLimit;
    const fixture = path.resolve(__dirname, '../fixtures/stack-trace-limit-workflow.ts');
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: fixture, logger: new DefaultLogger('ERROR') });
    const inSandbox = await withWorker(
      ({ taskQueue }) =>
        testEnv().temporalClient.workflow.execute('stackTraceLimitWorkflow', { taskQueue, workflowId: uniqueName('stack-trace-limit') }),
      { workflowBundle },
    );
    assert.equal(inSandbox, WORKFLOW_THREAD_STACK_TRACE_LIMIT);
    assert.notEqual(WORKFLOW_THREAD_STACK_TRACE_LIMIT, mainThreadLimit);
    assert.equal(Error.stackTraceLimit, mainThreadLimit);
  });

  it("still show an operator where a device workflow waits (Temporal's stack-trace query)", async () => {
    await withWorker(async ({ taskQueue }) => {
      const idle = await seedDevice();
      await sendEvent(taskQueue, idle.deviceId, registration(idle));
      await waitForDevice(idle.deviceId, (r) => r.complianceStatus === 'Successful');
      const waitingForWork = await workflowHandle(idle.deviceId).query<string>('__stack_trace');
      assert.match(waitingForWork, /at runDevice \(.*workflows\/device\.ts:\d+:\d+\)/);

      // A report whose activity waits a minute before its first status poll: the run waits on it.
      const reporting = await seedDevice();
      await sendEvent(taskQueue, reporting.deviceId, registration(reporting), { statusPollIntervalsMs: [60_000] });
      const waitingForActivity = await waitFor('the upload under way', async () => {
        const trace = await workflowHandle(reporting.deviceId).query<string>('__stack_trace');
        return /upload/.test(trace) && trace;
      });
      // The upload's stack, innermost first: the step that scheduled it, then the report and the main loop.
      assert.match(waitingForActivity, /at upload \(.*workflows\/device-entity\.ts:\d+:\d+\)\n\s+at report \(.*\)\n\s+at runDevice \(/);
    });
  });
});
