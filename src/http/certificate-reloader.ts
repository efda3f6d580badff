import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { systemScheduler, type Cancel, type Scheduler } from '../scheduler.js';
import { checkCertificatePair, readCertificateFiles, type CertificatePair, type CertificatePaths } from './tls-certificate.js';

export interface CertificateReloaderOptions {
  paths: CertificatePaths;
  /** The pair served now (read at start). */
  current: CertificatePair;
  /** Makes a pair the one new connections are offered (the server's setSecureContext); connections already open keep theirs. */
  apply(pair: CertificatePair): void;
  log: { info(details: object, message: string): void; warn(details: object, message: string): void; error(details: object, message: string): void };
  /**
   * How long the directories must stay quiet before the files are read, in
   * milliseconds: a renewal replaces the certificate and the key one after
   * the other (certbot swaps four symlinks), and reading between the two
   * would find a key that is not the certificate's.
   */
  settleMs?: number;
  /** What the settling wait runs on; default the system's timers. */
  scheduler?: Scheduler;
}

export type ReloadReason = 'file change' | 'SIGHUP';

interface CertificateReloaderEvents {
  /** A new pair is served to new connections. */
  reloaded: [pair: CertificatePair, reason: ReloadReason];
  /** A pair that failed to load (unreadable, cut short, mismatched): logged, and the previous pair kept. */
  rejected: [error: Error, reason: ReloadReason];
}

/**
 * Serves a renewed certificate without a restart: certbot and cert-manager
 * replace the files by renaming a new file over the old or by swapping a
 * symlink, which changes the directory that holds the configured path, so
 * the directories are watched (inotify, no polling) and the pair read again
 * when they change; `reload()` is also called on SIGHUP. Nothing starts
 * before `start()`.
 */
export class CertificateReloader extends EventEmitter<CertificateReloaderEvents> {
  private current: CertificatePair;
  /** The files last refused, so that the same broken pair is not logged at every change of its directory. */
  private refused: { cert: Buffer; key: Buffer } | null = null;
  private watchers: FSWatcher[] = [];
  private settling: Cancel | null = null;
  private readonly scheduler: Scheduler;
  private stopped = false;

  constructor(private readonly options: CertificateReloaderOptions) {
    super();
    this.current = options.current;
    this.scheduler = options.scheduler ?? systemScheduler();
  }

  /** The pair new connections are offered. */
  served(): CertificatePair {
    return this.current;
  }

  /** Watches the directories of the certificate and key files. */
  start(): void {
    for (const directory of new Set([dirname(this.options.paths.cert), dirname(this.options.paths.key)])) {
      try {
        // Not persistent: the server's sockets keep the process alive, never this.
        const watcher = watch(directory, { persistent: false }, () => this.changed());
        watcher.on('error', (error) => this.options.log.warn({ directory, err: error }, 'no longer watching the TLS certificate directory; SIGHUP reloads the certificate'));
        this.watchers.push(watcher);
      } catch (error) {
        this.options.log.warn({ directory, err: error }, 'cannot watch the TLS certificate directory; SIGHUP reloads the certificate');
      }
    }
  }

  /**
   * Reads the files again and serves them if they changed and load; a pair
   * that does not load is logged and the one served kept.
   */
  reload(reason: ReloadReason): void {
    const { paths, log } = this.options;
    let files: { cert: Buffer; key: Buffer } | null = null;
    let pair: CertificatePair;
    try {
      files = readCertificateFiles(paths);
      if (sameFiles(files, this.current)) return;
      // The same broken files seen again as their directory changes: said once. SIGHUP asks, so it is answered in the log.
      if (reason === 'file change' && this.refused !== null && sameFiles(files, this.refused)) return;
      pair = checkCertificatePair(paths, files);
      this.options.apply(pair);
    } catch (error) {
      this.refused = files;
      log.error({ reason, problem: (error as Error).message, serial: this.current.serial }, 'TLS certificate reload failed; still serving the previous certificate');
      this.emit('rejected', error as Error, reason);
      return;
    }
    this.current = pair;
    this.refused = null;
    log.info({ reason, serial: pair.serial, subject: pair.subject, validTo: pair.validTo }, 'TLS certificate reloaded');
    this.emit('reloaded', pair, reason);
  }

  /** Stops watching. */
  stop(): void {
    this.stopped = true;
    this.settling?.();
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  /** A change in a watched directory: read the files once the changes stop coming. */
  private changed(): void {
    if (this.stopped) return;
    this.settling?.();
    this.settling = this.scheduler.after(this.options.settleMs ?? 200, () => {
      this.settling = null;
      this.reload('file change');
    });
  }
}

function sameFiles(a: { cert: Buffer; key: Buffer }, b: { cert: Buffer; key: Buffer }): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key);
}
