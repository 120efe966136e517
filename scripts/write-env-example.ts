// Writes .env.example from the settings table in @vigil/config.
import { writeFileSync } from 'node:fs';
import { envExample } from '@vigil/config';

writeFileSync(new URL('../.env.example', import.meta.url), envExample());
console.log('.env.example written');
