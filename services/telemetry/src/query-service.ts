// The device and telemetry queries on the bus. The tenant is the caller's, set by the edge from the authenticated
// principal; a request without one is refused, never answered for "all tenants".
import { BadRequestError, serve, WorkerTimeoutError, type Bus, type BusRequest, type Served } from '@vigil/bus';
import { deviceSubjects, parseGetDevice, parseListDevices, parseReadingsQuery, parseSeriesQuery } from '@vigil/devices-contract';
import { waitForCheckpoint, type Database } from '@vigil/store';
import { getDevice, listDevices, readReadings, readSeries } from './read-queries.ts';

export interface QueryServiceOptions {
  readonly bus: Bus;
  readonly database: Database;
  /** The projections that `min_seq` refers to: registry sequences for devices, telemetry sequences for readings. */
  readonly projections: { readonly devices: string; readonly telemetry: string };
  /** Longest wait for a projection to reach `min_seq` before answering 504 (default 2 s, under the edge's timeout). */
  readonly readYourWritesTimeoutMs?: number;
}

/** Room left in a reply for everything around the items (the reply envelope, `next`). */
const replyOverheadBytes = 4096;

function tenantOf(request: BusRequest<unknown>): string {
  const tenant = request.caller?.tenant;
  if (!tenant) throw new BadRequestError('a device query needs the tenant of an authenticated caller');
  return tenant;
}

export function serveTelemetryQueries(options: QueryServiceOptions): Served[] {
  const { bus, database } = options;
  const timeoutMs = options.readYourWritesTimeoutMs ?? 2000;
  const budget = () => Math.max(64 * 1024, (bus.nc.info?.max_payload ?? 1024 * 1024) - replyOverheadBytes);
  const caughtUp = async (subject: string, projection: string, minSeq: number | undefined) => {
    if (minSeq === undefined || minSeq === 0) return;
    if (!(await waitForCheckpoint(database, projection, minSeq, timeoutMs))) throw new WorkerTimeoutError(subject, String(timeoutMs));
  };
  /** Checks the caller first, then waits for the read model, then reads. */
  const query = <T extends { min_seq?: number }, R>(subject: string, parse: (data: unknown) => T, projection: string, read: (tenant: string, data: T) => Promise<R>) =>
    serve(bus, {
      subject,
      parse,
      handle: async (request) => {
        const tenant = tenantOf(request);
        await caughtUp(subject, projection, request.data.min_seq);
        return read(tenant, request.data);
      },
    });
  const s = deviceSubjects;
  const p = options.projections;
  return [
    query(s.get, parseGetDevice, p.devices, (tenant, data) => getDevice(database, tenant, data.device_id)),
    query(s.list, parseListDevices, p.devices, (tenant, data) => listDevices(database, tenant, data, budget())),
    query(s.readings, parseReadingsQuery, p.telemetry, (tenant, data) => readReadings(database, tenant, data, budget())),
    query(s.series, parseSeriesQuery, p.telemetry, (tenant, data) => readSeries(database, tenant, data)),
  ];
}
