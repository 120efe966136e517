export { uuidv7, uuidv7Time } from './ids.ts';
