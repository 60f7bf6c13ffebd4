// lib/keys.ts: the three keys npm start prints, generated once and kept, the environment's winning.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateKeys } from '../../lib/keys';

describe('API keys kept by npm start', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'acc-keys-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates three different keys once, keeps them (mode 0600), and the environment wins', () => {
    const first = loadOrCreateKeys(dir, {});
    assert.deepEqual(first.source, { mdm: 'generated', admin: 'generated', operator: 'generated' });
    assert.equal(new Set([first.mdm, first.admin, first.operator]).size, 3);
    assert.equal(statSync(first.file).mode & 0o777, 0o600);
    const again = loadOrCreateKeys(dir, {});
    assert.deepEqual([again.mdm, again.admin, again.operator], [first.mdm, first.admin, first.operator]);
    assert.deepEqual(again.source, { mdm: 'file', admin: 'file', operator: 'file' });
    const fromEnv = loadOrCreateKeys(dir, { operator: 'operator-from-the-environment' });
    assert.equal(fromEnv.operator, 'operator-from-the-environment');
    assert.equal(fromEnv.source.operator, 'environment');
    assert.equal(JSON.parse(readFileSync(first.file, 'utf8')).operatorApiKey, first.operator, 'the kept one stays');
  });

  it('adds an operator key to a keys.json kept from before, keeping its two keys', () => {
    const file = path.join(dir, 'keys.json');
    const old = { mdmApiKey: 'm'.repeat(43), adminApiKey: 'a'.repeat(43) };
    writeFileSync(file, JSON.stringify(old));
    const keys = loadOrCreateKeys(dir, {});
    assert.deepEqual([keys.mdm, keys.admin], [old.mdmApiKey, old.adminApiKey]);
    assert.equal(keys.source.operator, 'generated');
    const kept = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    assert.deepEqual([kept.mdmApiKey, kept.adminApiKey, kept.operatorApiKey], [old.mdmApiKey, old.adminApiKey, keys.operator]);
  });
});
