import { isIPv4, isIPv6 } from 'node:net';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { ApiError } from '../errors.js';

export interface AuthThrottleOptions {
  /** Failed authentications from one address within `windowMs` before it is refused; 0 turns the throttle off. */
  limit: number;
  windowMs: number;
  /** How long an address that reached the limit is refused. */
  blockMs: number;
  /** Addresses remembered at most; past it the one that failed longest ago is forgotten. */
  maxAddresses?: number;
}

interface Failures {
  /** When the address's current window of failures began. */
  since: number;
  count: number;
  /** Until when the address is refused; 0 when it is not. */
  blockedUntil: number;
}

/** Enough for every address of a large attack at about 100 bytes each, and nothing more. */
const DEFAULT_MAX_ADDRESSES = 100_000;

/**
 * Failed authentications counted per client address, in this process: once an
 * address has failed `limit` times within `windowMs`, its failing requests
 * are answered 429 instead of 401 for `blockMs`.
 *
 * The credential is always checked first, and a valid one always passes:
 * many customers share one address behind a NAT or a corporate proxy, and
 * one of them sending wrong keys must not lock the others (or the
 * provider's own backend) out. That "valid passes" answer is no oracle
 * worth having: every credential is a long random secret (192 bits for
 * those Tollgate issues; an operator's token shorter than 32 characters, or
 * a placeholder, stops a start beyond loopback), so a guesser never finds
 * one by trying, whatever the answers say. What the throttle bounds is the work
 * and the noise of guessing: a refused address gets its 429 before anything
 * is counted or logged, and each failure costs one hash and one indexed
 * lookup, like a success.
 *
 * Only failures are written. Memory is bounded by `maxAddresses`: the map is
 * kept in order of last failure, and the oldest entry makes room for a new one.
 */
export class AuthThrottle {
  private readonly addresses = new Map<string, Failures>();
  private readonly maxAddresses: number;

  constructor(private readonly options: AuthThrottleOptions, private readonly clock: Clock) {
    this.maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
  }

  get enabled(): boolean {
    return this.options.limit > 0;
  }

  /** Addresses currently remembered (for tests and metrics). */
  get size(): number {
    return this.addresses.size;
  }

  /**
   * Throws the 429 when `ip` is refused for now; otherwise returns at once.
   * Called once a credential has failed, never before a credential is checked.
   */
  assertAllowed(ip: string): void {
    if (this.addresses.size === 0) return;
    const key = addressKey(ip);
    const entry = this.addresses.get(key);
    if (entry === undefined) return;
    const now = this.clock.now();
    if (entry.blockedUntil > now) {
      const seconds = Math.max(1, Math.ceil((entry.blockedUntil - now) / 1000));
      throw new ApiError('rate_limited', `Too many failed authentication attempts from this address. Retry in ${seconds} seconds.`, { 'retry-after': String(seconds) });
    }
    if (entry.blockedUntil !== 0 || now - entry.since >= this.options.windowMs) this.addresses.delete(key);
  }

  /**
   * Records a failed authentication from `ip`; true when this failure is the
   * one that reaches the limit (the address is refused from now on).
   */
  failed(ip: string): boolean {
    if (!this.enabled) return false;
    const key = addressKey(ip);
    const now = this.clock.now();
    let entry = this.addresses.get(key);
    // A failure that was already in flight when the address got refused changes nothing.
    if (entry !== undefined && entry.blockedUntil > now) return false;
    if (entry !== undefined) this.addresses.delete(key);
    if (entry === undefined || entry.blockedUntil !== 0 || now - entry.since >= this.options.windowMs) {
      entry = { since: now, count: 0, blockedUntil: 0 };
    }
    entry.count += 1;
    const reached = entry.count >= this.options.limit;
    if (reached) entry.blockedUntil = now + this.options.blockMs;
    // Re-inserted last: the map's order is the order of last failure, oldest first.
    this.addresses.set(key, entry);
    if (this.addresses.size > this.maxAddresses) this.addresses.delete(this.addresses.keys().next().value!);
    return reached;
  }
}

/** The throttle the configuration asks for (`authFailureLimit` 0: off). */
export function authThrottleFor(config: Config, clock: Clock): AuthThrottle {
  return new AuthThrottle({ limit: config.authFailureLimit, windowMs: config.authFailureWindowMs, blockMs: config.authBlockMs }, clock);
}

/**
 * The unit an address is counted by: an IPv4 address whole (also when it
 * arrives IPv4-mapped, `::ffff:192.0.2.1`), an IPv6 address by its /64, the
 * block one host or one customer line usually has to itself, so that cycling
 * through the addresses of one's own /64 does not reset the count.
 */
export function addressKey(ip: string): string {
  if (isIPv4(ip)) return ip;
  if (!isIPv6(ip)) return ip.slice(0, 64);
  const lower = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped !== null) return mapped[1]!;
  return `${expandIPv6(lower).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, `::` expanded, an embedded IPv4 tail counted as two. */
function expandIPv6(ip: string): string[] {
  const withoutZone = ip.split('%')[0]!;
  const [head, tail] = withoutZone.includes('::') ? withoutZone.split('::') as [string, string] : [withoutZone, undefined];
  const groups = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const left = groups(head);
  const right = groups(tail);
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}
