export { given, types, when } from '@vigil/testkit';
