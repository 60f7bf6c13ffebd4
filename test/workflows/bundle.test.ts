import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_OPTIONS } from '../../workers/workflow-bundle';

const ROOT = path.resolve(__dirname, '../..');

/** The modules the worker preloads: every .ts file under workflows/ and domain/. */
function bundledSources(): string[] {
  return ['workflows', 'domain'].flatMap((dir) =>
    readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f)),
  );
}

describe('workflow bundle', function () {
  this.timeout(120_000);

  it('bundles workflows/ for the Temporal sandbox with every workflow type exported', async () => {
    const { code } = await bundleWorkflowCode({ ...WORKFLOW_BUNDLE_OPTIONS, logger: new DefaultLogger('ERROR') });
    assert.match(code, /deviceComplianceWorkflow/);
    assert.doesNotMatch(code, /require\("(pg|knex|pino|@azure\/msal-node)"\)/);
    // The workflow modules are preloaded once per worker, not evaluated again for every new run.
    assert.match(code, /function preloadModules\(\) \{\s*__webpack_require__\([^)]*"\.\/workflows\/index\.ts"\);\s*\}/);
  });

  it('keeps no mutable state at module scope in the preloaded modules (every device on a worker shares them)', () => {
    const offending = bundledSources().flatMap((file) =>
      readFileSync(path.join(ROOT, file), 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${file}:${i + 1}` }))
        .filter(
          ({ line }) =>
            /^(export )?(let|var) /.test(line) || /^(export )?const \w+(: (?!Readonly)[^=]+)? = new (Map|Set|WeakMap|Array)\b/.test(line),
        ),
    );
    assert.deepEqual(
      offending.map((o) => `${o.at}: ${o.line.trim()}`),
      [],
    );
  });

  it('refuses a workflow that imports a Node built-in (the guard this test exists for)', async () => {
    const file = path.resolve(__dirname, '../fixtures/forbidden-import-workflow.ts');
    await assert.rejects(bundleWorkflowCode({ workflowsPath: file, logger: new DefaultLogger('ERROR') }), /Webpack finished with errors/);
  });
});
