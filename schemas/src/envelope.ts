import Type, { type Static, type TSchema } from 'typebox';

/** Who caused an event: a person, a program (API key, SAE, device) or Vigil itself. */
export const Actor = Type.Object(
  {
    kind: Type.Union([
      Type.Literal('user'),
      Type.Literal('api_key'),
      Type.Literal('sae'),
      Type.Literal('device'),
      Type.Literal('service'),
      Type.Literal('system'),
    ]),
    id: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type Actor = Static<typeof Actor>;

const uuid = Type.String({ format: 'uuid' });
const tenantId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' });

/** Envelope fields shared by every event; `type`, `v` and `data` are fixed per event definition. */
export const envelopeFields = {
  id: uuid,
  at: Type.String({ format: 'date-time' }),
  tenant: Type.Optional(tenantId),
  actor: Actor,
  correlation_id: Type.String({ minLength: 1, maxLength: 128 }),
  causation_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
};

export const TenantId = tenantId;

/** The envelope of an event whose type, version and data are known. */
export function envelopeOf<const T extends string, const V extends number, D extends TSchema>(type: T, v: V, data: D) {
  return Type.Object(
    {
      ...envelopeFields,
      type: Type.Literal(type),
      v: Type.Literal(v),
      data,
    },
    { additionalProperties: false, $id: `${type}.v${v}` },
  );
}

/** Any event, before its type is known: what a consumer checks first. */
export const AnyEnvelope = Type.Object(
  {
    ...envelopeFields,
    type: Type.String({ pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$' }),
    v: Type.Integer({ minimum: 1 }),
    data: Type.Unknown(),
  },
  { additionalProperties: false, $id: 'envelope' },
);
export type AnyEnvelope = Static<typeof AnyEnvelope>;
