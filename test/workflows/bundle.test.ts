import assert from 'node:assert/strict';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../workers/workflow-bundle';

describe('workflow bundle', function () {
  this.timeout(120_000);

  it('bundles workflows/ for the Temporal sandbox with every workflow type exported', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
    assert.match(code, /deviceComplianceWorkflow/);
    assert.doesNotMatch(code, /require\("(pg|knex|pino|@azure\/msal-node)"\)/);
  });

  it('refuses a workflow that imports a Node built-in (the guard this test exists for)', async () => {
    const file = path.resolve(__dirname, '../fixtures/forbidden-import-workflow.ts');
    await assert.rejects(bundleWorkflowCode({ workflowsPath: file, logger: new DefaultLogger('ERROR') }), /Webpack finished with errors/);
  });
});
