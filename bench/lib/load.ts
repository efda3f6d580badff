import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** The request mix; client i starts at a different offset of it. */
  requests: autocannon.Request[];
  /** Whether an answer's body counts as admitted (allowed=true). */
  admitted: (body: string) => boolean;
}

export interface LoadResult {
  /** autocannon's average of its per-second samples. */
  reqPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyAvgMs: number;
  samples: number;
  durationS: number;
  status2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Requests written to a socket. */
  sent: number;
  /** Complete answers received. */
  answered: number;
  /** Answers whose body `admitted` accepted. */
  admitted: number;
  notAdmitted: number;
  /** Requests still unanswered when the connections were closed (0 after a clean drain). */
  inFlightAtEnd: number;
  /** Whether every connection finished its last request before autocannon closed it. */
  drained: boolean;
}

/** autocannon's client, with the two fields the drain uses (not in its typings). */
type ClientInternals = autocannon.Client & EventEmitter & { reqsMade: number; responseMax?: number; destroyed: boolean };

/** Drain this long before the end, so the last per-second sample is a full one. */
const DRAIN_LEAD_MS = 150;

/**
 * One autocannon run in this process, ending with a drain: shortly before
 * `durationS` every connection stops after the answer to its last request,
 * so that no request is left in flight (and half-counted) when the run
 * stops. That is what makes "rows written = admitted answers" exact.
 */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const clients: ClientInternals[] = [];
  let sent = 0;
  let answered = 0;
  let admitted = 0;
  let notAdmitted = 0;
  let clientIndex = 0;
  const n = options.requests.length;
  // Spread the starting points so that connections do not march in step on one key.
  const stride = n > 1 ? Math.max(1, Math.floor(n / Math.max(1, options.connections))) : 0;

  return new Promise<LoadResult>((resolve, reject) => {
    let drainTimer: NodeJS.Timeout | undefined;
    const instance = autocannon({
      url: options.url,
      connections: options.connections,
      pipelining: 1,
      // Safety net: if the drain does not finish, autocannon stops on its own.
      duration: options.durationS + 5,
      timeout: 10,
      requests: options.requests,
      setupClient(client) {
        const c = client as ClientInternals;
        const offset = n === 0 ? 0 : (clientIndex * stride) % n;
        clientIndex += 1;
        if (n > 1 && offset !== 0) c.setRequests([...options.requests.slice(offset), ...options.requests.slice(0, offset)]);
        c.on('request', () => { sent += 1; });
        c.on('response', () => { answered += 1; });
        clients.push(c);
      },
      verifyBody(body) {
        const ok = options.admitted(String(body));
        if (ok) admitted += 1;
        else notAdmitted += 1;
        return ok;
      },
    }, (error, result) => {
      clearTimeout(drainTimer);
      if (error) return reject(error);
      const inFlightAtEnd = sent - answered;
      resolve({
        reqPerSec: result.requests.average,
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        latencyAvgMs: result.latency.average,
        samples: (result as unknown as { samples: number }).samples,
        durationS: result.duration,
        status2xx: result['2xx'],
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        sent,
        answered,
        admitted,
        notAdmitted,
        inFlightAtEnd,
        drained: inFlightAtEnd === 0,
      });
    });
    instance.on('error', reject);
    drainTimer = setTimeout(() => {
      for (const c of clients) if (!c.destroyed) c.responseMax = Math.max(1, c.reqsMade);
    }, Math.max(0, options.durationS * 1000 - DRAIN_LEAD_MS));
  });
}
