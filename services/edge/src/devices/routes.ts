import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import {
  CommandAccepted,
  CommandDone,
  CredentialIssuedResult,
  CredentialSpec,
  DecommissionBody,
  DevicePage,
  DeviceRegisteredResult,
  deviceSubjects,
  DeviceView,
  ListDevices,
  parseCommandAccepted,
  parseCommandDone,
  parseCredentialIssued,
  parseDevicePage,
  parseDeviceRegistered,
  parseDeviceView,
  parseReadingsPage,
  parseSeries,
  ReadingsPage,
  ReadingsParams,
  RegisterDevice,
  SendCommandBody,
  Series,
  SeriesParams,
} from '@vigil/devices-contract';
import { features, permissions } from '@vigil/identity-contract';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { callerOf, principalOf } from '../identity/index.ts';
import { problemResponses } from '../problem.ts';

export interface DeviceRouteOptions {
  readonly bus: Bus;
  readonly timeoutMs: number;
}

const DeviceParams = Type.Object({ device_id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const MinSeqQuery = Type.Object({ min_seq: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false });
const CredentialParams = Type.Object({ device_id: Type.String({ format: 'uuid' }), credential_id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

/**
 * The device registry and its telemetry over HTTP: registration, credentials, decommissioning and commands go to the
 * device workers; reads go to the telemetry service's read models, waiting for this caller's last write where the
 * route has one (`min_seq`). The tenant is always the principal's: a device of another tenant is "not found".
 */
export const deviceRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { bus, timeoutMs }) => {
  const tags = ['devices'];
  const ask = <R>(subject: string, data: unknown, parse: (r: unknown) => R, caller: Caller) => request(bus, subject, data, { timeoutMs, parse, caller });
  const callerFor = (req: FastifyRequest): Caller => callerOf(principalOf(req));
  const write = { permission: permissions.devicesWrite, feature: features.devices };
  const read = { permission: permissions.devicesRead, feature: features.devices };

  app.post(
    '/devices',
    {
      config: write,
      schema: {
        summary: 'Register a device',
        description: 'The serial number is unique in the tenant. Issue the device a credential next.',
        tags,
        body: RegisterDevice,
        response: { 201: DeviceRegisteredResult, ...problemResponses },
      },
    },
    async (req, reply) => {
      const registered = await ask(deviceSubjects.register, req.body, parseDeviceRegistered, callerFor(req));
      return reply.code(201).header('location', `/devices/${registered.device_id}`).send(registered);
    },
  );

  app.get(
    '/devices',
    {
      config: read,
      schema: {
        summary: 'List the devices of my tenant',
        description: 'Keyset-paged by device id: pass `next` as `after`. `min_seq` (the `seq` a write answered) waits until the list includes that write.',
        tags,
        querystring: ListDevices,
        response: { 200: DevicePage, ...problemResponses },
      },
    },
    async (req) => ask(deviceSubjects.list, req.query, parseDevicePage, callerFor(req)),
  );

  app.get(
    '/devices/:device_id',
    {
      config: read,
      schema: {
        summary: 'A device: profile, credentials (never secrets), presence',
        description: '`min_seq` (the `seq` a write answered) waits until the answer includes that write.',
        tags,
        params: DeviceParams,
        querystring: MinSeqQuery,
        response: { 200: DeviceView, ...problemResponses },
      },
    },
    async (req) => ask(deviceSubjects.get, { device_id: req.params.device_id, ...req.query }, parseDeviceView, callerFor(req)),
  );

  app.post(
    '/devices/:device_id/credentials',
    {
      config: write,
      schema: {
        summary: 'Issue a device credential',
        description:
          'A secret (the MQTT password; shown once, Vigil keeps its SHA-256) or a client certificate. With `replace_existing`, every other credential is revoked at the same moment (rotation).',
        tags,
        params: DeviceParams,
        body: CredentialSpec,
        response: { 201: CredentialIssuedResult, ...problemResponses },
      },
    },
    async (req, reply) => {
      const issued = await ask(deviceSubjects.issueCredential, { device_id: req.params.device_id, credential: req.body }, parseCredentialIssued, callerFor(req));
      return reply.code(201).header('cache-control', 'no-store').send(issued);
    },
  );

  app.delete(
    '/devices/:device_id/credentials/:credential_id',
    {
      config: write,
      schema: { summary: 'Revoke a device credential', description: 'Connections that used it are closed.', tags, params: CredentialParams, response: { 200: CommandDone, ...problemResponses } },
    },
    async (req) => ask(deviceSubjects.revokeCredential, { device_id: req.params.device_id, credential_id: req.params.credential_id }, parseCommandDone, callerFor(req)),
  );

  app.post(
    '/devices/:device_id/decommission',
    {
      config: write,
      schema: {
        summary: 'Decommission a device',
        description: 'For good: its credentials stop working, its connection is closed and its serial may be registered again.',
        tags,
        params: DeviceParams,
        body: DecommissionBody,
        response: { 200: CommandDone, ...problemResponses },
      },
    },
    async (req) => ask(deviceSubjects.decommission, { device_id: req.params.device_id, ...req.body }, parseCommandDone, callerFor(req)),
  );

  app.post(
    '/devices/:device_id/commands',
    {
      config: write,
      schema: {
        summary: 'Send a command to a device',
        description: 'Recorded on the bus, then published to the device on `v1/<tenant>/<device>/commands` by the broker it is connected to.',
        tags,
        params: DeviceParams,
        body: SendCommandBody,
        response: { 202: CommandAccepted, ...problemResponses },
      },
    },
    async (req, reply) => {
      const accepted = await ask(deviceSubjects.sendCommand, { device_id: req.params.device_id, ...req.body }, parseCommandAccepted, callerFor(req));
      return reply.code(202).send(accepted);
    },
  );

  app.get(
    '/devices/:device_id/readings',
    {
      config: read,
      schema: {
        summary: 'Raw readings of a device in a time range',
        description: 'Ordered by time; keyset-paged: pass `next` as `after`.',
        tags,
        params: DeviceParams,
        querystring: ReadingsParams,
        response: { 200: ReadingsPage, ...problemResponses },
      },
    },
    async (req) => ask(deviceSubjects.readings, { device_id: req.params.device_id, ...req.query }, parseReadingsPage, callerFor(req)),
  );

  app.get(
    '/devices/:device_id/series',
    {
      config: read,
      schema: {
        summary: 'A downsampled series of one metric',
        description: 'Buckets of `bucket_s` seconds aligned to the Unix epoch, with avg/min/max/count; empty buckets are left out.',
        tags,
        params: DeviceParams,
        querystring: SeriesParams,
        response: { 200: Series, ...problemResponses },
      },
    },
    async (req) => ask(deviceSubjects.series, { device_id: req.params.device_id, ...req.query }, parseSeries, callerFor(req)),
  );
};
