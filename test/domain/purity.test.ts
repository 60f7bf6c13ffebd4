import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as domain from '../../domain';

const DOMAIN_DIR = resolve(__dirname, '../../domain');

/** Every module specifier imported (statically, type-only included) by a file. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

/** The files reachable from `entry` through relative imports, and the packages they import. */
function graph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) visit(join(dirname(file), `${spec}.ts`).replace(/\/index\.ts\.ts$/, '/index.ts'));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => f.slice(DOMAIN_DIR.length + 1)).sort(), packages: [...packages] };
}

describe('domain purity (safe for the workflow sandbox)', () => {
  it('domain/index.ts reaches only zod-free domain files and no package at all', () => {
    const { files, packages } = graph(join(DOMAIN_DIR, 'index.ts'));
    assert.deepEqual(files, [
      'client-status.ts',
      'constants.ts',
      'events.ts',
      'failure-reasons.ts',
      'index.ts',
      'ordering.ts',
      'policy.ts',
    ]);
    assert.deepEqual(packages, []);
  });

  it('domain/index.ts exports the zod-free API', () => {
    for (const name of [
      'POLICY_ACTIONS',
      'CLIENT_STATUS_CODES',
      'mostRestrictiveAction',
      'reportedStateFor',
      'clientStatusGuidance',
      'clientStatusError',
      'isStale',
    ]) {
      assert.ok(name in domain, name);
    }
    assert.equal('deviceEventSchema' in domain, false);
  });
});
