-- Runs once, when the Postgres data volume is first created, in the database named by POSTGRES_DB (vigil).
-- Vigil applies its own migrations at start; this only enables TimescaleDB where the server has it.
-- Without the extension Vigil falls back to plain range partitioning, so its absence is not an error.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'timescaledb') then
    create extension if not exists timescaledb;
  else
    raise notice 'timescaledb is not available on this server; Vigil will use plain Postgres partitioning';
  end if;
end
$$;
