import { EncKeysRequest, KeyId, SaeId, Status, type DecKeysRequest } from '@vigil/kme-contract';
import Type, { type Static } from 'typebox';
import Compile from 'typebox/compile';

/**
 * The HTTP shapes of the ETSI GS QKD 014 methods, made from the bus contract's types so the two cannot disagree.
 * The edge checks shapes and types only; the rules that need a link's limits are the KME worker's.
 */

const { slave_SAE_ID: _slave, ...keyRequestProperties } = EncKeysRequest.properties;

/** Table 10 (Key request): every item optional, nothing else allowed. */
export const KeyRequest = Type.Object(keyRequestProperties, { additionalProperties: false, description: 'ETSI GS QKD 014 Key request (Table 10)' });
export type KeyRequest = Static<typeof KeyRequest>;

const Extension = Type.Record(Type.String(), Type.Unknown());

/** Table 12 (Key IDs). The `*_extension` objects are "for future use": accepted and not forwarded. */
export const KeyIds = Type.Object(
  {
    key_IDs: Type.Array(Type.Object({ key_ID: KeyId, key_ID_extension: Type.Optional(Extension) }, { additionalProperties: false }), { minItems: 1 }),
    key_IDs_extension: Type.Optional(Extension),
  },
  { additionalProperties: false, description: 'ETSI GS QKD 014 Key IDs (Table 12)' },
);
export type KeyIds = Static<typeof KeyIds>;

/** Table 11 (Key container), as the SAE receives it. */
export const KeyContainer = Type.Object(
  { keys: Type.Array(Type.Object({ key_ID: KeyId, key: Type.String({ description: 'Key data, base64.' }) })) },
  { description: 'ETSI GS QKD 014 Key container (Table 11)' },
);

export { Status };

export const SlaveParams = Type.Object({ slave_SAE_ID: SaeId });
export const MasterParams = Type.Object({ master_SAE_ID: SaeId });

/**
 * Query values arrive as text. Integers are written in decimal digits and nothing else (no sign, point, exponent,
 * hex or blank: a lenient conversion would turn "3.5" into 3); the contract's ranges are checked after conversion.
 */
export const decimalIntegerPattern = '^[0-9]{1,9}$';
const decimalInteger = Type.String({ pattern: decimalIntegerPattern });

/** GET enc_keys: only `number` and `size` (clause 6.2). */
export const EncKeysQuery = Type.Object({ number: Type.Optional(decimalInteger), size: Type.Optional(decimalInteger) }, { additionalProperties: false });
export type EncKeysQuery = Static<typeof EncKeysQuery>;

/** GET dec_keys: exactly one `key_ID` (clause 6.4). */
export const DecKeysQuery = Type.Object({ key_ID: KeyId }, { additionalProperties: false });

const encKeysRequest = Compile(EncKeysRequest);

/** A validation failure found after fastify's own (a converted query value out of range), reported the same way. */
export class LateValidationError extends Error {
  readonly validation: ReturnType<typeof encKeysRequest.Errors>;
  readonly validationContext: string;
  constructor(validation: ReturnType<typeof encKeysRequest.Errors>, part: string) {
    super(`the ${part} is not valid`);
    this.validation = validation;
    this.validationContext = part;
  }
}

/** The bus request of a GET enc_keys. */
export function encKeysFromQuery(slaveSaeId: string, query: EncKeysQuery): EncKeysRequest {
  const request = {
    slave_SAE_ID: slaveSaeId,
    ...(query.number === undefined ? {} : { number: Number(query.number) }),
    ...(query.size === undefined ? {} : { size: Number(query.size) }),
  };
  if (!encKeysRequest.Check(request)) throw new LateValidationError(encKeysRequest.Errors(request), 'querystring');
  return request;
}

export function encKeysFromBody(slaveSaeId: string, body: KeyRequest): EncKeysRequest {
  return { slave_SAE_ID: slaveSaeId, ...body };
}

export function decKeysFromBody(masterSaeId: string, body: KeyIds): DecKeysRequest {
  return { master_SAE_ID: masterSaeId, key_IDs: body.key_IDs.map((k) => k.key_ID) };
}
