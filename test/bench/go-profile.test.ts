// The Temporal server's profile is named from the binary's own Go function table (bench/lib/go-profile.ts):
// the table must read right off the real `temporal` binary, and perf's load-relative addresses must be
// recognised as such.
import { strict as assert } from 'node:assert';
import { loadConfig } from '../../config';
import { findTemporalCli } from '../../lib/temporal-cli';
import { addressBias, goFunctionAt, loadGoSymbols } from '../../bench/lib/go-profile';

describe("bench: the Temporal server's Go function table", () => {
  const binary = findTemporalCli(loadConfig().temporal.cliPath);

  it('reads the function table of the temporal binary and names an address inside a function', () => {
    if (!binary) throw new Error('no temporal CLI (.ci/run installs it)');
    const sym = loadGoSymbols(binary);
    assert.ok(sym.names.length > 10_000, `only ${sym.names.length} functions`);
    for (const name of ['runtime.goexit', 'main.main']) {
      const i = sym.names.indexOf(name);
      assert.ok(i >= 0, `${name} is not in the table`);
      assert.equal(goFunctionAt(sym, sym.entries[i]! + 1), name);
    }
    const handler = sym.names.find((n) => /_HistoryService_RespondWorkflowTaskCompleted_Handler$/.test(n));
    assert.ok(handler, 'the history service handlers are named');
    for (let i = 1; i < sym.entries.length; i++) assert.ok(sym.entries[i]! >= sym.entries[i - 1]!, 'entries ascend');
  });

  it("takes perf's addresses as load-relative when that is what makes the stacks end in runtime.goexit", () => {
    if (!binary) throw new Error('no temporal CLI (.ci/run installs it)');
    const sym = loadGoSymbols(binary);
    const at = (name: string) => sym.entries[sym.names.indexOf(name)]! + 4;
    const stacks = [[at('main.main'), at('runtime.main'), at('runtime.goexit')]];
    assert.equal(addressBias(sym, stacks), 0);
    const relative = stacks.map((s) => s.map((a) => a - sym.loadBase));
    assert.equal(addressBias(sym, relative), sym.loadBase);
    assert.equal(goFunctionAt(sym, relative[0]![0]!, sym.loadBase), 'main.main');
  });
});
