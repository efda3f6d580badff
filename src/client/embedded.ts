import { resolve } from 'node:path';
import { systemClock } from '../clock.js';
import { createTollgate, type ComposedTollgate } from '../compose.js';
import { loadConfig } from '../config.js';
import { newSecret } from '../domain/secrets.js';
import type { AdminApi } from './admin.js';
import { Tollgate } from './client.js';
import { embeddedCheck } from './embedded-check.js';
import type { EventsApi } from './events.js';
import { injectFetch } from './inject-fetch.js';
import type { CheckInput, CheckResult } from './types.js';
import type { UsageApi } from './usage.js';

export interface EmbeddedOptions {
  /** The data directory: the same format as `tollgate serve --data-dir`. */
  dataDir: string;
  /** Prefix of the keys it issues; default `tg_`. */
  keyPrefix?: string;
  /** How long idempotency keys and event ids are remembered; default 35. */
  idempotencyWindowDays?: number;
  /** How often counted usage is folded into the rollups; default 250 ms. */
  rollupFlushMs?: number;
}

/** One open data directory: Tollgate assembled over it, and a client of its routes. */
interface Engine {
  core: ComposedTollgate;
  client: Tollgate;
}

/**
 * The data directories open in this process, with the number of handles on
 * each: two stores on one file would each count alone, so every `open` of a
 * directory shares one engine, closed when the last handle is.
 */
const engines = new Map<string, { opening: Promise<Engine>; handles: number }>();

async function startEngine(dataDir: string, options: EmbeddedOptions): Promise<Engine> {
  // This engine's own admin token, never written down: only its in-process client knows it.
  const adminToken = newSecret('tge_');
  const config = loadConfig({}, {
    // Only this process's own client calls in, with the right token: nothing to throttle.
    dataDir, adminToken, logLevel: 'silent', authFailureLimit: 0,
    ...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
    ...(options.idempotencyWindowDays === undefined ? {} : { idempotencyWindowDays: options.idempotencyWindowDays }),
    ...(options.rollupFlushMs === undefined ? {} : { rollupFlushMs: options.rollupFlushMs }),
  });
  // No process metrics: the process is the host app's, which may export its own.
  const core = await createTollgate(config, { clock: systemClock, processMetrics: false, logger: false });
  const client = new Tollgate({ baseUrl: 'http://embedded.tollgate', token: adminToken, fetch: injectFetch(core.app), retries: 0 });
  core.start();
  return { core, client };
}

/**
 * Tollgate inside your process, without a server: the SQLite store on a data
 * directory, with the system clock. `check` runs the check decision
 * directly (no HTTP, no serialisation); `admin`, `usage` and `events` are the
 * client's APIs, served by Tollgate's own routes in this process (no socket).
 *
 * The data directory has the format of `tollgate serve`: a directory used
 * embedded can later be served, and the other way round, but never by two
 * processes at once (each keeps the counters in memory and would let twice
 * the limits through). Within a process, every `open` of a directory shares
 * one store (the first `open`'s options apply), released when each handle is
 * closed.
 *
 * @example
 * import { EmbeddedTollgate } from 'tollgate/embedded';
 *
 * const tollgate = await EmbeddedTollgate.open({ dataDir: './data' });
 * await tollgate.admin.plans.create({ id: 'free', monthlyQuota: 100, rateLimitPerMinute: 10 });
 * const result = await tollgate.check({ key, usageType: 'image' });
 * await tollgate.close();
 */
export class EmbeddedTollgate {
  readonly admin: AdminApi;
  readonly usage: UsageApi;
  readonly events: EventsApi;
  private closing: Promise<void> | null = null;

  private constructor(readonly dataDir: string, private readonly engine: Engine) {
    this.admin = engine.client.admin;
    this.usage = engine.client.usage;
    this.events = engine.client.events;
  }

  /** Opens (and creates, when missing) the data directory, or shares it when this process has it open already. */
  static async open(options: EmbeddedOptions): Promise<EmbeddedTollgate> {
    const dataDir = resolve(options.dataDir);
    let entry = engines.get(dataDir);
    if (entry === undefined) {
      const created = { opening: startEngine(dataDir, options), handles: 0 };
      engines.set(dataDir, created);
      created.opening.catch(() => engines.get(dataDir) === created && engines.delete(dataDir));
      entry = created;
    }
    // Counted before waiting, so that a close meanwhile cannot shut the engine under this handle.
    entry.handles += 1;
    try {
      return new EmbeddedTollgate(dataDir, await entry.opening);
    } catch (error) {
      entry.handles -= 1;
      throw error;
    }
  }

  /**
   * Meters one call, as `Tollgate#check` does over HTTP: the same decision
   * and the same answer. Throws a 400 `TollgateError` for input the check
   * API would refuse.
   */
  check(input: CheckInput): Promise<CheckResult> {
    const { store, clock, alerts } = this.engine.core.services;
    return embeddedCheck({ store, clock, alerts }, input);
  }

  /** Lets go of the data directory; the last handle to close writes everything buffered and closes the store. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const entry = engines.get(this.dataDir);
      if (entry === undefined) return;
      entry.handles -= 1;
      if (entry.handles > 0) return;
      engines.delete(this.dataDir);
      await this.engine.core.close();
    })();
    return this.closing;
  }
}
