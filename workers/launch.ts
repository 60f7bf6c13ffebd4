/**
 * How the worker process is started, wherever it is started (npm run worker, npm start, the
 * benchmarks, docker-compose.yml; test/foundation checks they agree).
 *
 * V8 otherwise lets each isolate of the worker (the main one and the SDK's workflow thread) grow its
 * heap far beyond what it holds, for throughput; capped, it collects sooner and the process stays
 * inside its memory budget whatever the number of open device workflows (docs/benchmarks.md). The
 * cap is per isolate and leaves room above what each one holds with the default workflow cache.
 */
export const WORKER_HEAP_MB = 192;
/**
 * `--single-threaded-gc`: V8 collects in the thread that allocated, not in helper threads. On the
 * 1–2 cores a worker gets, the helpers only competed with the worker's own threads: it spent 8 % less
 * CPU per event (56–60 against 60–65 ms in four alternating pairs) for 7–29 MiB more resident
 * memory (docs/benchmarks.md, "Event path, fifth round").
 */
export const WORKER_NODE_FLAGS = [`--max-old-space-size=${WORKER_HEAP_MB}`, '--single-threaded-gc'] as const;
/**
 * The worker's threads (Node's, the workflow thread, the SDK's Rust runtime) each get a glibc malloc
 * arena of their own by default, up to 8 per core, and every arena keeps what it freed: two arenas
 * hold the same worker in about 28 MiB less resident memory (docs/benchmarks.md).
 * `MALLOC_TRIM_THRESHOLD_` fixes at glibc's default (128 KiB) how much free memory an arena keeps
 * at its top before giving it back: left dynamic, glibc raises it with every large block freed, up
 * to 64 MiB, and the worker kept about 45 MiB more after a busy hour (docs/benchmarks.md, "Malloc's
 * trim threshold"). glibc reads both when the process starts, so they are set in the environment of
 * the launch, not from inside.
 */
export const WORKER_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' } as const;
export const WORKER_ENTRY = 'workers/main.ts';
