/** Why an event was refused; the rest of its batch is not affected. */
export type RejectionCode =
  | 'invalid_event' | 'unsupported_specversion' | 'invalid_data' | 'unknown_app' | 'app_disabled' | 'invalid_usage_type'
  | 'invalid_count' | 'invalid_timestamp' | 'timestamp_in_future' | 'timestamp_too_old' | 'invalid_request_args';

/** An event refused before it is counted, and why. */
export interface Refusal {
  error: RejectionCode;
  message: string;
}

/** An event in one of the accepted shapes, reduced to what Tollgate counts (its fields checked later). */
export interface NormalisedEvent {
  dedupKey: string;
  id: string;
  appId: unknown;
  usageType: unknown;
  count: unknown;
  timestamp: unknown;
  requestArgs: unknown;
  requestArgsHash: unknown;
}
