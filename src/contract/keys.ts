import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.js';

/** Keys (the secrets customers send) and service tokens (for a provider's backend): secrets shown once, at creation. */

export const KeySchema = Type.Object({
  key_id: Type.String(),
  app_id: Type.String(),
  group_id: Type.String(),
  name: Type.String(),
  hint: Type.String({ description: 'The first characters of the secret, to tell keys apart.' }),
  created_at: Timestamp,
  expires_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
}, { $id: 'Key' });

/** `POST /admin/apps/{app_id}/keys`; the body may be left out. */
export const NewKeyBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  expires_at: Type.Optional(Type.String({
    format: 'date-time', description: 'When the key stops working: an RFC 3339 date-time with its offset, which must be in the future (a past one is refused with 400). Default: never.',
  })),
}, { additionalProperties: false });

/** A key just created, with its secret. */
export const CreatedKeySchema = Type.Intersect([KeySchema, Type.Object({ key: Type.String({ description: 'The secret. Store it now: it is not shown again.' }) })]);

export const ServiceTokenSchema = Type.Object({
  token_id: Type.String(),
  name: Type.String(),
  hint: Type.String(),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
}, { $id: 'ServiceToken' });

/** `POST /admin/service-tokens`; the body may be left out. */
export const NewServiceTokenBody = Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });

/** A service token just created, with its secret. */
export const CreatedServiceTokenSchema = Type.Intersect([ServiceTokenSchema, Type.Object({
  token: Type.String({ description: 'The secret. Store it now: it is not shown again.' }),
})]);
