import { type Static, type TSchema } from 'typebox';
import Compile from 'typebox/compile';
import { envelopeOf } from './envelope.ts';

/** One event type at one version: the single declaration its type, validator and JSON Schema come from. */
export interface EventDefinition<T extends string = string, V extends number = number, D extends TSchema = TSchema> {
  readonly type: T;
  readonly v: V;
  readonly stream: string;
  readonly schema: ReturnType<typeof envelopeOf<T, V, D>>;
  /** Returns the problems with a value as `path: message` strings; an empty list means it is valid. */
  problems(value: unknown): string[];
  is(value: unknown): value is Static<this['schema']>;
}

export type EventOf<E extends EventDefinition> = Static<E['schema']>;
export type DataOf<E extends EventDefinition> = EventOf<E>['data'];

export function defineEvent<const T extends string, const V extends number, D extends TSchema>(
  stream: string,
  type: T,
  v: V,
  data: D,
): EventDefinition<T, V, D> {
  const schema = envelopeOf(type, v, data);
  const validator = Compile(schema);
  return {
    type,
    v,
    stream,
    schema,
    problems: (value) => validator.Errors(value).map((e) => `${e.instancePath || '/'}: ${e.message}`),
    is(value: unknown): value is Static<typeof schema> {
      return validator.Check(value);
    },
  };
}
