import { defineConfig } from 'drizzle-kit';

// Migrations are generated from src/schema.ts (`pnpm db:generate`) and applied at start by every process that
// opens the database, on PostgreSQL and PGlite alike.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './drizzle',
});
