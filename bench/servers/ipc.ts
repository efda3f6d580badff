/**
 * What every benchmark server script says to the parent (bench/lib/child.ts)
 * over IPC: `ready` with its URL, `stats` before it stops on SIGTERM, or
 * `error` when it cannot start.
 */
export function send(message: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** Reports a failed start to the parent and exits 1. */
export async function reportStartFailure(error: unknown): Promise<never> {
  await send({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exit(1);
}

/**
 * On the first SIGTERM: send `stats` (the script's own figures and its RSS),
 * then `close`, then exit 0 (1 when closing failed).
 */
export function stopOnSigterm(name: string, stats: () => Record<string, unknown>, close: () => Promise<unknown>): void {
  process.once('SIGTERM', () => {
    void send({ type: 'stats', ...stats(), rssMb: Math.round(process.memoryUsage().rss / 1e6) })
      .then(close)
      .then(() => process.exit(0), (error: unknown) => {
        process.stderr.write(`${name}: failed to stop cleanly: ${String(error)}\n`);
        process.exit(1);
      });
  });
}

/** How many calls shared one fsync in the server's recent group commits. */
export function batchStats(tollgate: { services: { store: unknown } }): { batches: number; meanBatch: number | null; maxBatch: number | null } {
  // The store's engine is not part of the Store interface: the bench reads it as a diagnostic.
  const engine = (tollgate.services.store as { engine?: { recentBatchSizes(): readonly number[] } }).engine;
  const sizes = engine?.recentBatchSizes() ?? [];
  return {
    batches: sizes.length,
    meanBatch: sizes.length === 0 ? null : sizes.reduce((a, b) => a + b, 0) / sizes.length,
    maxBatch: sizes.length === 0 ? null : Math.max(...sizes),
  };
}
