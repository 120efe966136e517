import { defineEvent, StreamName, vigilEvents } from '@vigil/schemas';
import Type from 'typebox';

// Event types that exist only for the bus tests, on a real stream's subject space.
export const CounterIncremented = defineEvent(StreamName.AuthEvent, 'test.counter.incremented', 1, Type.Object({ by: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }));
export const CounterReset = defineEvent(StreamName.AuthEvent, 'test.counter.reset', 1, Type.Object({}, { additionalProperties: false }));

export const testRegistry = vigilEvents.with([CounterIncremented, CounterReset]);
