// @peculiar/x509 needs a Reflect metadata polyfill loaded before it (its dependency injection uses it) and a
// WebCrypto provider: Node's own. Every module of this package imports the library from here, never directly.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };
