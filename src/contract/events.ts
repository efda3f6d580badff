import { Type } from 'typebox';

/** `POST /v1/events`: usage that was already served, as Tollgate events or CloudEvents, and the verdict on each. */

export const EventSchema = Type.Object({
  id: Type.String({ description: 'Unique per event: a repeat within the dedup window is counted once.' }),
  app_id: Type.String(),
  usage_type: Type.String(),
  count: Type.Optional(Type.Integer({ minimum: 1, description: 'Units; default 1.' })),
  timestamp: Type.Optional(Type.String({ format: 'date-time', description: 'When the usage happened; default: when it is received. At most 5 minutes ahead, and within the dedup window.' })),
  request_args: Type.Optional(Type.Object({}, { additionalProperties: true })),
  request_args_hash: Type.Optional(Type.String({ description: 'SHA-1 hex of the canonical arguments, when the arguments themselves are not sent.' })),
});

export const CloudEventSchema = Type.Object({
  specversion: Type.Literal('1.0', { description: 'CloudEvents 1.0; an event of another version is refused (unsupported_specversion).' }),
  id: Type.String(),
  source: Type.String(),
  type: Type.String({ description: 'The usage type.' }),
  subject: Type.String({ description: 'The app id.' }),
  time: Type.Optional(Type.String({ format: 'date-time' })),
  data: Type.Optional(Type.Object({
    count: Type.Optional(Type.Integer({ minimum: 1 })),
    request_args: Type.Optional(Type.Object({}, { additionalProperties: true })),
    request_args_hash: Type.Optional(Type.String()),
  }, { additionalProperties: true })),
  data_base64: Type.Optional(Type.String({ description: 'The data as base64 of its JSON, instead of "data" (datacontenttype JSON, or none).' })),
  datacontenttype: Type.Optional(Type.String()),
});

export const IngestAnswer = Type.Object({
  accepted: Type.Integer({ description: 'Events recorded by this request.' }),
  duplicates: Type.Integer({ description: 'Events whose id was seen before within the dedup window: counted once, not again.' }),
  rejected: Type.Array(Type.Object({
    index: Type.Integer({ description: 'Position in the batch (line number from 0 for NDJSON).' }),
    id: Type.Union([Type.String(), Type.Null()]),
    error: Type.String({ examples: ['unknown_app'] }),
    message: Type.String(),
  })),
});
