import type { Static, TSchema } from 'typebox';
import Compile from 'typebox/compile';
import { BadRequestError } from './errors.ts';

/** The first few problems a validator found, as one line: `path message; path message`. */
export function schemaProblems(errors: readonly { instancePath: string; message: string }[]): string {
  return errors
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}`)
    .join('; ');
}

/** A request check for the worker side of `serve`: a bad shape is the caller's mistake (400). */
export function requestParser<S extends TSchema>(schema: S): (data: unknown) => Static<S> {
  const validator = Compile(schema);
  return (data) => {
    if (validator.Check(data)) return data;
    throw new BadRequestError(schemaProblems(validator.Errors(data)));
  };
}

/** A reply check for the caller side of `request`: a worker answering outside its contract is a server fault. */
export function replyParser<S extends TSchema>(schema: S, what: string): (result: unknown) => Static<S> {
  const validator = Compile(schema);
  return (result) => {
    if (validator.Check(result)) return result;
    throw new Error(`${what} reply does not match its schema: ${schemaProblems(validator.Errors(result))}`);
  };
}
