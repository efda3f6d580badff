import { randomUUID } from 'node:crypto';
import type { UsageEvent } from './types.js';

/** Events per request, as `POST /v1/events` accepts them. */
export const MAX_EVENTS_PER_REQUEST = 10_000;

/**
 * The event with an id: its own, or a new random one. The id is what makes
 * a resend safe, so it is fixed before the first attempt, never per attempt.
 */
export function withId(event: UsageEvent): UsageEvent & { id: string } {
  return event.id === undefined ? { ...event, id: randomUUID() } : (event as UsageEvent & { id: string });
}
