import type { AddressInfo } from 'node:net';
import { digestsEqual, sha256Hex } from '@vigil/crypto';
import { DeviceNotFoundError } from '@vigil/devices-contract';
import type { Logger } from '@vigil/log';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import Compile from 'typebox/compile';
import type { KnownDevice } from '../registry/device-directory.ts';
import type { RegistryWorker } from '../registry/registry-worker.ts';
import { talqApiVersion } from './cms-client.ts';
import { deviceClassDescription, talqDeviceClass, talqDeviceClasses } from './talq-device-classes.ts';
import { decideOverride, OverrideCommand, type TalqErrorMessage } from './talq-override.ts';

export interface TalqListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly tenant: string;
  /** The CMS's TALQ address: every request must carry it as `clientAddress`. */
  readonly cmsAddress: string;
  /** The shared secret the CMS presents as `Authorization: Bearer <secret>`; undefined with mutual TLS alone. */
  readonly secret?: string;
  /** HTTPS; with `ca`, the CMS must present a client certificate signed by it (mutual TLS). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer };
  readonly directory: { byTalqAddress(tenant: string, address: string): KnownDevice[]; talqDevices(tenant: string): KnownDevice[] };
  readonly registry: Pick<RegistryWorker, 'sendCommand'>;
  readonly logger: Logger;
}

export interface TalqListener {
  readonly url: string;
  readonly counts: { readonly overrides_accepted: number; readonly overrides_refused: number; readonly unauthenticated: number };
  close(): Promise<void>;
}

const checkOverride = Compile(OverrideCommand);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The gateway side of TALQ that the CMS calls: `POST /override-commands` (each override becomes a device command on
 * the bus, delivered over MQTT by the broker the device is connected to) and the read-only device model
 * (`GET /device-classes`, `GET /devices`). It is the devices service's own small listener, not the edge: TALQ has
 * its own errors (arrays of TALQErrorMessage), its own client identity (`clientAddress`) and its own trust (a shared
 * secret, or mutual TLS with the CMS's CA), and the edge holds no device state. Requests are answered once every
 * command is on the bus (201).
 */
export async function startTalqListener(options: TalqListenerOptions): Promise<TalqListener> {
  const logger = options.logger.child({ component: 'talq-listener' });
  const secretDigest = options.secret === undefined ? undefined : sha256Hex(options.secret);
  const counts = { overrides_accepted: 0, overrides_refused: 0, unauthenticated: 0 };
  const { tls } = options;
  const app = Fastify({
    https: tls ? { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) } : null,
    bodyLimit: 64 * 1024,
    logger: false,
  });
  const refuse = (reply: FastifyReply, status: number, errors: readonly TalqErrorMessage[]) => reply.code(status).send(errors);

  app.setErrorHandler((err: { statusCode?: number; message: string }, _request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) logger.error({ err }, 'TALQ request failed');
    return refuse(reply, status, [{ key: status === 500 ? 'genericError' : 'payloadError', description: status === 500 ? 'internal error' : err.message }]);
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('talq-api-version', talqApiVersion);
  });
  app.addHook('onRequest', async (request, reply) => {
    if (secretDigest !== undefined) {
      const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (presented === undefined || !digestsEqual(sha256Hex(presented), secretDigest)) {
        counts.unauthenticated += 1;
        logger.warn({ remote: request.ip, category: 'authentication' }, 'TALQ request without the shared secret');
        return refuse(reply.header('www-authenticate', 'Bearer'), 401, [{ key: 'genericError', description: 'authentication required' }]);
      }
    }
    const problem = talqRequestProblem(request, options.cmsAddress);
    if (problem) return refuse(reply, 400, [problem]);
    return undefined;
  });

  app.post('/override-commands', async (request, reply) => {
    const talqRequestId = queryField(request, 'talqRequestId');
    if (talqRequestId === undefined) return refuse(reply, 400, [{ key: 'parameterMissing', description: 'talqRequestId is missing' }]);
    if (!uuid.test(talqRequestId)) return refuse(reply, 400, [{ key: 'parameterValueNotValid', description: 'talqRequestId is not a UUID' }]);
    const body = request.body;
    if (!checkOverride.Check(body)) {
      counts.overrides_refused += 1;
      const first = checkOverride.Errors(body)[0];
      return refuse(reply, 400, [{ key: 'payloadError', description: first ? `${first.instancePath || '/'}: ${first.message}` : 'not an OverrideCommand' }]);
    }
    const decision = decideOverride(body, (address) => options.directory.byTalqAddress(options.tenant, address), talqRequestId, new Date());
    if (!decision.ok) {
      counts.overrides_refused += 1;
      logger.info({ talq_request_id: talqRequestId, errors: decision.errors.map((e) => e.key) }, 'TALQ override refused');
      return refuse(reply, 422, decision.errors);
    }
    const caller = { actor: { kind: 'service' as const, id: `talq-cms:${options.cmsAddress}` }, tenant: options.tenant };
    const recorded: string[] = [];
    for (const c of decision.commands) {
      try {
        const accepted = await options.registry.sendCommand(caller, { device_id: c.deviceId, name: c.name, parameters: c.parameters }, 'talq');
        recorded.push(accepted.command_id);
      } catch (err) {
        counts.overrides_refused += 1;
        if (err instanceof DeviceNotFoundError) return refuse(reply, 422, [{ key: 'resourceNotFound', description: 'a device was decommissioned meanwhile' }]);
        logger.error({ err, talq_request_id: talqRequestId, recorded: recorded.length }, 'a TALQ override could not be recorded');
        return refuse(reply.header('retry-after', '5'), 503, [{ key: 'genericError', description: 'the command could not be recorded; send it again' }]);
      }
    }
    counts.overrides_accepted += 1;
    logger.info({ talq_request_id: talqRequestId, commands: recorded.length }, 'TALQ override recorded');
    return reply.code(201).send();
  });

  app.get('/device-classes', async () => talqDeviceClasses.map(deviceClassDescription));
  app.get('/device-classes/:className', async (request, reply) => {
    const model = talqDeviceClass(paramField(request, 'className') ?? '');
    return model ? deviceClassDescription(model) : refuse(reply, 404, [{ key: 'resourceNotFound', description: 'no such device class' }]);
  });
  app.get('/devices', async (request) => {
    const classes = queryField(request, 'deviceClasses')?.split(',').filter((c) => c.length > 0);
    return options.directory
      .talqDevices(options.tenant)
      .filter((d) => classes === undefined || classes.includes(d.state.profile.talq?.device_class ?? ''))
      .map(talqDeviceOf);
  });
  app.get('/devices/:deviceAddress', async (request, reply) => {
    const found = options.directory.byTalqAddress(options.tenant, paramField(request, 'deviceAddress') ?? '');
    const [device] = found;
    if (!device) return refuse(reply, 404, [{ key: 'resourceNotFound', description: 'no such device' }]);
    if (found.length > 1) return refuse(reply, 409, [{ key: 'resourceConflict', description: 'the address is bound to more than one device' }]);
    return talqDeviceOf(device);
  });

  await app.listen({ host: options.host, port: options.port });
  const address: AddressInfo | string | null = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    counts,
    async close() {
      await app.close();
    },
  };
}

/** The TALQ Device object of a registered device: its identification in the BasicFunction, and its functions. */
export function talqDeviceOf(device: KnownDevice): Record<string, unknown> {
  const { profile } = device.state;
  const className = profile.talq?.device_class ?? '';
  const model = talqDeviceClass(className);
  return {
    address: profile.talq?.address ?? '',
    name: profile.name,
    class: className,
    functions: (model?.functions ?? []).map((fn) =>
      fn.type === 'BasicFunction'
        ? {
            id: fn.id,
            type: fn.type,
            displayName: { type: 'AttributeString', value: profile.name },
            serial: { type: 'AttributeString', value: profile.serial },
            hwType: { type: 'AttributeString', value: profile.device_type },
          }
        : { id: fn.id, type: fn.type },
    ),
  };
}

/** The request checks TALQ makes of every CMS request: the API version header and the CMS's own address. */
function talqRequestProblem(request: FastifyRequest, cmsAddress: string): TalqErrorMessage | undefined {
  const version = request.headers['talq-api-version'];
  if (version === undefined) return { key: 'headerMissing', description: 'the talq-api-version header is missing' };
  if (typeof version !== 'string' || !/^2\.\d+(\.\d+)?$/.test(version)) return { key: 'headerValueNotValid', description: `talq-api-version must be 2.x (this gateway speaks ${talqApiVersion})` };
  const client = queryField(request, 'clientAddress');
  if (client === undefined) return { key: 'parameterMissing', description: 'clientAddress is missing' };
  if (client.toLowerCase() !== cmsAddress) return { key: 'parameterValueNotValid', description: 'clientAddress is not the address of this gateway’s CMS' };
  return undefined;
}

function field(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found: unknown = Reflect.get(value, key);
  return typeof found === 'string' ? found : undefined;
}

const queryField = (request: FastifyRequest, key: string) => field(request.query, key);
const paramField = (request: FastifyRequest, key: string) => field(request.params, key);
