/**
 * Keeps compose.yaml, the Dockerfile and deploy/ honest against the code, without a Docker engine: every
 * variable a Vigil container gets is one `settings` knows and parses, every command runs a file that exists,
 * every service directory is deployed, and the NATS cluster, Postgres and the image agree with each other.
 *
 * Run from the repository root: node --import tsx --test deploy/test/compose.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { settings } from '../../packages/config/src/config.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

// ---------------------------------------------------------------------------------------------------------
// Narrowing parsed YAML
// ---------------------------------------------------------------------------------------------------------

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function dictAt(parent: Dict, key: string, where: string): Dict {
  const value = parent[key];
  assert.ok(isDict(value), `${where}: ${key} must be a mapping`);
  return value;
}

/** A scalar as compose passes it to a container (numbers and booleans become their text). */
function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Compose's variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`,
 * `$$`) with the given environment; the test uses an empty one, so it checks the defaults a user gets.
 */
function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match: string, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (match === '$$') return '$';
      const name = braced ?? bare ?? '';
      const value = env[name];
      const unset = value === undefined;
      const empty = unset || value === '';
      if (op === ':-') return empty ? (arg ?? '') : value;
      if (op === '-') return unset ? (arg ?? '') : value;
      if (op === ':?' || op === '?') {
        if (op === ':?' ? empty : unset) throw new Error(`compose.yaml requires ${name}: ${arg ?? ''}`);
        return value ?? '';
      }
      return value ?? '';
    },
  );
}

function interpolateTree(value: unknown, env: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v: unknown) => interpolateTree(v, env));
  if (isDict(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateTree(v, env)]));
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// compose.yaml
// ---------------------------------------------------------------------------------------------------------

const composeText = read('compose.yaml');
const composeRaw: unknown = parse(composeText, { merge: true });
const compose: unknown = interpolateTree(composeRaw, {});
assert.ok(isDict(compose), 'compose.yaml must be a mapping');
const services = dictAt(compose, 'services', 'compose.yaml');

function service(name: string): Dict {
  return dictAt(services, name, 'compose.yaml services');
}

/** Services built from ./Dockerfile: the Vigil services. */
function isVigil(svc: Dict): boolean {
  return svc['build'] !== undefined;
}

const vigilNames = Object.keys(services).filter((name) => isVigil(service(name)));
/** Simulators run once: a second replica of the QKD link simulator would feed the same link twice. */
const singletonNames = ['qkd-sim'];
/** Services that hold client connections on published ports and no database: scaled behind a load balancer. */
const frontDoorNames = ['edge', 'devices'];
const workerNames = vigilNames.filter((name) => !frontDoorNames.includes(name) && !singletonNames.includes(name)).sort();
const natsNames = Object.keys(services)
  .filter((name) => {
    const image = service(name)['image'];
    return typeof image === 'string' && /^nats:/.test(image);
  })
  .sort();

/** The container's environment; `undefined` is a name passed through from the host. */
function environmentOf(svc: Dict, where: string): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const raw = svc['environment'];
  if (raw === undefined) return env;
  if (isStringArray(raw)) {
    for (const entry of raw) {
      const eq = entry.indexOf('=');
      if (eq < 0) env.set(entry, undefined);
      else env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return env;
  }
  assert.ok(isDict(raw), `${where}: environment must be a mapping or a list of NAME=value`);
  for (const [name, value] of Object.entries(raw)) {
    if (value === null) {
      env.set(name, undefined);
      continue;
    }
    const text = scalarText(value);
    assert.ok(text !== undefined, `${where}: environment ${name} must be a string, number or boolean`);
    env.set(name, text);
  }
  return env;
}

function commandOf(svc: Dict, where: string): string[] {
  const raw = svc['command'];
  if (typeof raw === 'string') return raw.trim().split(/\s+/);
  assert.ok(isStringArray(raw), `${where}: command must be a string or a list of strings`);
  return raw;
}

function healthcheckOf(svc: Dict, where: string): string {
  const hc = dictAt(svc, 'healthcheck', where);
  const test = hc['test'];
  if (typeof test === 'string') return test;
  assert.ok(isStringArray(test) && test.length > 1, `${where}: healthcheck.test must be a command`);
  assert.ok(['CMD', 'CMD-SHELL'].includes(test[0] ?? ''), `${where}: healthcheck.test must start with CMD or CMD-SHELL`);
  return test.slice(1).join(' ');
}

interface Port {
  readonly published: string | undefined;
  readonly target: number;
}

function portsOf(svc: Dict, where: string): Port[] {
  const raw = svc['ports'];
  if (raw === undefined) return [];
  assert.ok(Array.isArray(raw), `${where}: ports must be a list`);
  return raw.map((entry: unknown): Port => {
    if (isDict(entry)) {
      const target = Number(scalarText(entry['target']));
      assert.ok(Number.isInteger(target), `${where}: a port needs a numeric target`);
      return { published: scalarText(entry['published']), target };
    }
    const text = scalarText(entry);
    assert.ok(text !== undefined, `${where}: a port must be text or a mapping`);
    const parts = (text.split('/')[0] ?? '').split(':');
    const target = Number(parts.at(-1));
    assert.ok(Number.isInteger(target), `${where}: port ${text} has no numeric container port`);
    return { published: parts.length > 1 ? parts.at(-2) : undefined, target };
  });
}

interface Mount {
  readonly source: string;
  readonly target: string;
}

function volumesOf(svc: Dict, where: string): Mount[] {
  const raw = svc['volumes'];
  if (raw === undefined) return [];
  assert.ok(Array.isArray(raw), `${where}: volumes must be a list`);
  return raw.map((entry: unknown): Mount => {
    if (isDict(entry)) {
      const source = entry['source'];
      const target = entry['target'];
      assert.ok(typeof source === 'string' && typeof target === 'string', `${where}: a volume needs source and target`);
      return { source, target };
    }
    assert.ok(typeof entry === 'string', `${where}: a volume must be text or a mapping`);
    const [source, target] = entry.split(':');
    assert.ok(source && target, `${where}: volume ${entry} must be source:target`);
    return { source, target };
  });
}

/** A bind mount's source (relative to the compose file), or undefined for a named volume. */
function bindSource(mount: Mount): string | undefined {
  return mount.source.startsWith('./') || mount.source.startsWith('../') || mount.source.startsWith('/') ? mount.source : undefined;
}

function dependsOn(svc: Dict, where: string): Map<string, string> {
  const raw = svc['depends_on'];
  const deps = new Map<string, string>();
  if (raw === undefined) return deps;
  if (isStringArray(raw)) {
    for (const name of raw) deps.set(name, 'service_started');
    return deps;
  }
  assert.ok(isDict(raw), `${where}: depends_on must be a list or a mapping`);
  for (const [name, spec] of Object.entries(raw)) {
    const condition = isDict(spec) ? spec['condition'] : undefined;
    deps.set(name, typeof condition === 'string' ? condition : 'service_started');
  }
  return deps;
}

function isSettingName(name: string): name is keyof typeof settings {
  return Object.hasOwn(settings, name);
}

/** Checks each variable against `settings` and returns the parsed values by name. */
function checkSettings(env: Map<string, string | undefined>, where: string): Map<string, unknown> {
  const parsed = new Map<string, unknown>();
  for (const [name, raw] of env) {
    assert.ok(isSettingName(name), `${where}: ${name} is not a Vigil setting (packages/config/src/config.ts)`);
    if (raw === undefined || raw === '') {
      parsed.set(name, settings[name].fallback());
      continue;
    }
    try {
      parsed.set(name, settings[name].parse(raw));
    } catch (err) {
      assert.fail(`${where}: ${name}=${JSON.stringify(raw)} does not parse: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return parsed;
}

/** The value a setting takes in a container: parsed when set, the table's fallback otherwise. */
function settingValue(env: Map<string, string | undefined>, name: keyof typeof settings): unknown {
  const raw = env.get(name);
  return raw === undefined || raw === '' ? settings[name].fallback() : settings[name].parse(raw);
}

const edge = service('edge');
const edgeEnv = environmentOf(edge, 'edge');
const edgePort = settingValue(edgeEnv, 'VIGIL_HTTP_PORT');

// ---------------------------------------------------------------------------------------------------------
// NATS server configuration (the subset of its syntax the confs use: key: value, blocks, arrays, # comments)
// ---------------------------------------------------------------------------------------------------------

type ConfValue = string | number | boolean | readonly ConfValue[] | ConfMap;
interface ConfMap {
  readonly [key: string]: ConfValue;
}

function isConfMap(value: ConfValue | undefined): value is ConfMap {
  return typeof value === 'object' && !Array.isArray(value);
}

function parseNatsConf(text: string): ConfMap {
  const src = text
    .split('\n')
    .map((line) => (/^\s*\/\//.test(line) ? '' : line.replace(/(^|\s)#.*$/, '')))
    .join('\n');
  let i = 0;
  const skip = (newlines: boolean): void => {
    while (i < src.length && (/[ \t\r,;]/.test(src[i] ?? '') || (newlines && src[i] === '\n'))) i++;
  };
  const scalar = (raw: string): ConfValue => {
    const t = raw.trim();
    if (/^-?\d+$/.test(t)) return Number(t);
    if (/^(true|yes|on)$/i.test(t)) return true;
    if (/^(false|no|off)$/i.test(t)) return false;
    return t;
  };
  const value = (): ConfValue => {
    skip(false);
    const c = src[i];
    if (c === '{') {
      i++;
      return block('}');
    }
    if (c === '[') {
      i++;
      const items: ConfValue[] = [];
      for (;;) {
        skip(true);
        if (i >= src.length) throw new Error('unterminated array');
        if (src[i] === ']') {
          i++;
          return items;
        }
        items.push(value());
      }
    }
    if (c === '"' || c === "'") {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new Error('unterminated string');
      const s = src.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const start = i;
    while (i < src.length && !/[\n,;\]}]/.test(src[i] ?? '')) i++;
    return scalar(src.slice(start, i));
  };
  const block = (close: string | undefined): ConfMap => {
    const map: Record<string, ConfValue> = {};
    for (;;) {
      skip(true);
      if (i >= src.length) {
        if (close !== undefined) throw new Error(`missing ${close}`);
        return map;
      }
      if (src[i] === close) {
        i++;
        return map;
      }
      const start = i;
      while (i < src.length && !/[\s:={]/.test(src[i] ?? '')) i++;
      const key = src.slice(start, i);
      if (key === '') throw new Error(`unexpected ${JSON.stringify(src[i])} at offset ${i}`);
      skip(false);
      if (src[i] === ':' || src[i] === '=') i++;
      map[key] = value();
    }
  };
  return block(undefined);
}

/** The port of `host:port` or `scheme://host:port`. */
function portOf(address: ConfValue | undefined): number | undefined {
  if (typeof address === 'number') return address;
  if (typeof address !== 'string') return undefined;
  const m = /:(\d+)$/.exec(address);
  return m ? Number(m[1]) : undefined;
}

interface NatsNode {
  readonly service: string;
  readonly confPath: string;
  readonly conf: ConfMap;
}

function natsNode(name: string): NatsNode {
  const svc = service(name);
  const command = commandOf(svc, name);
  const flag = command.findIndex((a) => a === '--config' || a === '-c');
  const confTarget = flag >= 0 ? command[flag + 1] : '/etc/nats/nats-server.conf';
  const mount = volumesOf(svc, name).find((m) => m.target === confTarget);
  assert.ok(mount, `${name}: no volume mounts its config ${confTarget}`);
  const source = bindSource(mount);
  assert.ok(source, `${name}: the config must be a file from deploy/, not a named volume`);
  assert.ok(existsSync(join(root, source)), `${name}: ${source} does not exist`);
  return { service: name, confPath: source, conf: parseNatsConf(read(source)) };
}

const natsNodes = natsNames.map(natsNode);

// ---------------------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------------------

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, '')} `;
    if (continued) continue;
    const m = /^\s*(\S+)\s*(.*)$/.exec(pending.trim());
    pending = '';
    if (m) out.push({ keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() });
  }
  return out;
}

function stages(instructions: Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') result.push([ins]);
    else result.at(-1)?.push(ins);
  }
  return result;
}

/** COPY's sources and flags (the last word is the destination). */
function copyParts(args: string): { flags: string[]; sources: string[] } {
  const words = args.split(/\s+/).filter((w) => w.length > 0);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  return { flags, sources: rest.slice(0, -1) };
}

const dockerStages = stages(dockerInstructions(read('Dockerfile')));

// ---------------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------------

describe('Vigil services in compose.yaml', () => {
  it('include the edge and are built from the Dockerfile', () => {
    assert.ok(isVigil(edge), 'edge must be built from the Dockerfile');
    for (const name of vigilNames) {
      const build = service(name)['build'];
      const dockerfile = isDict(build) ? (build['dockerfile'] ?? 'Dockerfile') : 'Dockerfile';
      const context = isDict(build) ? (build['context'] ?? '.') : build;
      assert.equal(context, '.', `${name}: build context must be the repository root`);
      assert.equal(dockerfile, 'Dockerfile', `${name}: must build ./Dockerfile`);
    }
  });

  it('set only variables that settings knows, each with a value its parse accepts', () => {
    for (const name of vigilNames) {
      const env = environmentOf(service(name), name);
      assert.ok(env.size > 0, `${name}: has no environment`);
      checkSettings(env, name);
    }
  });

  it('the worker template sets only known settings', () => {
    const template = dictAt(compose, 'x-vigil-worker', 'compose.yaml');
    const env = environmentOf(template, 'x-vigil-worker');
    checkSettings(env, 'x-vigil-worker');
    assert.ok(env.has('DATABASE_URL'), 'x-vigil-worker: workers need DATABASE_URL');
    const deploy = dictAt(template, 'deploy', 'x-vigil-worker');
    assert.ok(Number(deploy['replicas']) >= 2, 'x-vigil-worker: workers run at least 2 replicas');
  });

  it('each run node --import tsx services/<its name>/src/main.ts, which exists', () => {
    for (const name of vigilNames) {
      const command = commandOf(service(name), name);
      assert.deepEqual(command.slice(0, 3), ['node', '--import', 'tsx'], `${name}: command must start with node --import tsx`);
      const entry = command[3] ?? '';
      assert.equal(entry, `services/${name}/src/main.ts`, `${name}: runs ${entry}`);
      assert.ok(existsSync(join(root, entry)), `${name}: ${entry} does not exist`);
    }
  });

  it('cover every directory under services/ except the all-in-one vigil launcher', () => {
    const dirs = readdirSync(join(root, 'services'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'vigil')
      .map((d) => d.name)
      .sort();
    assert.ok(dirs.includes('edge'), 'services/edge is expected');
    for (const dir of dirs) {
      assert.ok(Object.hasOwn(services, dir), `services/${dir} has no service in compose.yaml`);
      assert.ok(isVigil(service(dir)), `compose service ${dir} must be built from the Dockerfile`);
    }
    for (const name of vigilNames) assert.ok(dirs.includes(name), `compose service ${name} has no services/${name} directory`);
    assert.ok(!Object.hasOwn(services, 'vigil'), 'the all-in-one launcher does not belong in the cluster');
  });

  it('simulators run as a single replica', () => {
    for (const name of singletonNames.filter((n) => vigilNames.includes(n))) {
      const deploy = dictAt(service(name), 'deploy', name);
      assert.equal(Number(deploy['replicas']), 1, `${name}: deploy.replicas must be 1`);
    }
  });

  it('workers run replicated, with the database, after Postgres is healthy', () => {
    for (const name of workerNames) {
      const svc = service(name);
      const deploy = dictAt(svc, 'deploy', name);
      assert.ok(Number(deploy['replicas']) >= 2, `${name}: deploy.replicas must be at least 2`);
      assert.ok(!Object.hasOwn(svc, 'container_name'), `${name}: container_name prevents replicas`);
      assert.equal(portsOf(svc, name).length, 0, `${name}: a replicated worker cannot publish a port`);
      assert.ok(environmentOf(svc, name).has('DATABASE_URL'), `${name}: needs DATABASE_URL`);
    }
  });

  it('DATABASE_URL, wherever set, reaches the postgres service with its credentials and database', () => {
    const pg = service('postgres');
    const pgEnv = environmentOf(pg, 'postgres');
    const user = pgEnv.get('POSTGRES_USER') ?? 'postgres';
    const password = pgEnv.get('POSTGRES_PASSWORD');
    const database = pgEnv.get('POSTGRES_DB') ?? user;
    assert.ok(password, 'postgres: POSTGRES_PASSWORD must be set');
    const holders: [string, Dict][] = [
      ...vigilNames.map((n): [string, Dict] => [n, service(n)]),
      ['x-vigil-worker', dictAt(compose, 'x-vigil-worker', 'compose.yaml')],
    ];
    let checked = 0;
    for (const [name, svc] of holders) {
      const raw = environmentOf(svc, name).get('DATABASE_URL');
      if (raw === undefined) continue;
      checked++;
      const url = new URL(raw);
      assert.equal(url.hostname, 'postgres', `${name}: DATABASE_URL must point at the postgres service`);
      assert.equal(url.port || '5432', '5432', `${name}: DATABASE_URL port`);
      assert.equal(decodeURIComponent(url.username), user, `${name}: DATABASE_URL user`);
      assert.equal(decodeURIComponent(url.password), password, `${name}: DATABASE_URL password must be POSTGRES_PASSWORD`);
      assert.equal(url.pathname, `/${database}`, `${name}: DATABASE_URL database must be POSTGRES_DB`);
    }
    assert.ok(checked > 0, 'no DATABASE_URL to check');
  });

  it('all reach the three NATS nodes by their compose names on the client port of their confs, R3', () => {
    assert.equal(natsNames.length, 3, 'a 3-node NATS cluster');
    const clientPorts = new Set(natsNodes.map((n) => (typeof n.conf['port'] === 'number' ? n.conf['port'] : (portOf(n.conf['listen']) ?? 4222))));
    assert.deepEqual([...clientPorts], [4222], 'every NATS node serves clients on 4222');
    for (const name of vigilNames) {
      const env = environmentOf(service(name), name);
      const urls = settingValue(env, 'NATS_URL');
      assert.ok(isStringArray(urls), `${name}: NATS_URL must be set`);
      const hosts = urls.map((u) => new URL(u).hostname).sort();
      assert.deepEqual(hosts, natsNames, `${name}: NATS_URL must list ${natsNames.join(', ')}`);
      for (const u of urls) assert.equal(Number(new URL(u).port || 4222), 4222, `${name}: ${u} must use the client port 4222`);
      assert.equal(settingValue(env, 'NATS_STREAM_REPLICAS'), natsNames.length, `${name}: NATS_STREAM_REPLICAS must equal the cluster size`);
    }
  });

  it('VIGIL_READY_WORKERS names exactly the services the edge needs answering: workers and the device services', () => {
    const needed = vigilNames.filter((n) => n !== 'edge' && !singletonNames.includes(n)).sort();
    assert.ok(edgeEnv.has('VIGIL_READY_WORKERS'), 'edge: VIGIL_READY_WORKERS must be set (empty while there are no workers)');
    for (const name of vigilNames) {
      const env = environmentOf(service(name), name);
      if (!env.has('VIGIL_READY_WORKERS')) continue;
      const listed = settingValue(env, 'VIGIL_READY_WORKERS');
      assert.ok(isStringArray(listed), `${name}: VIGIL_READY_WORKERS must be a list`);
      assert.deepEqual([...listed].sort(), needed, `${name}: VIGIL_READY_WORKERS`);
    }
  });

  it('start once every NATS node (and Postgres, for workers) is healthy', () => {
    for (const name of vigilNames) {
      const deps = dependsOn(service(name), name);
      for (const nats of natsNames) assert.equal(deps.get(nats), 'service_healthy', `${name} must wait for ${nats} to be healthy`);
      if (environmentOf(service(name), name).has('DATABASE_URL')) {
        assert.equal(deps.get('postgres'), 'service_healthy', `${name} must wait for postgres to be healthy`);
      }
    }
    for (const name of Object.keys(services)) {
      for (const [dep, condition] of dependsOn(service(name), name)) {
        assert.ok(Object.hasOwn(services, dep), `${name} depends on unknown service ${dep}`);
        if (condition === 'service_healthy') healthcheckOf(service(dep), dep);
      }
    }
  });

  it('declare every named volume they use', () => {
    const declared = compose['volumes'];
    const names = isDict(declared) ? Object.keys(declared) : [];
    for (const name of Object.keys(services)) {
      for (const mount of volumesOf(service(name), name)) {
        const source = bindSource(mount);
        if (source === undefined) assert.ok(names.includes(mount.source), `${name}: volume ${mount.source} is not declared`);
        // deploy/secrets/ is the operator's (keys, certificates): never in the repository, so not checked for.
        else if (!source.replace(/^\.\//, '').startsWith('deploy/secrets/')) assert.ok(existsSync(join(root, source)), `${name}: ${source} does not exist`);
      }
    }
  });
});

describe('the device broker', () => {
  const devices = service('devices');
  const devicesEnv = environmentOf(devices, 'devices');
  it('publishes the MQTT port it listens on, on all interfaces, and it is not 1883', () => {
    const mqttPort = settingValue(devicesEnv, 'VIGIL_MQTT_PORT');
    assert.notEqual(mqttPort, 1883);
    const ports = portsOf(devices, 'devices');
    assert.ok(ports.some((p) => p.target === mqttPort && p.published !== undefined), `devices must publish its MQTT port ${String(mqttPort)}`);
    for (const p of ports) assert.equal(p.target, mqttPort, `devices publishes container port ${p.target} but listens on ${String(mqttPort)}`);
    const host = settingValue(devicesEnv, 'VIGIL_MQTT_HOST');
    assert.ok(host === '0.0.0.0' || host === '::', `devices: VIGIL_MQTT_HOST must be all interfaces in a container, not ${String(host)}`);
  });

  it('has no database', () => {
    assert.ok(!devicesEnv.has('DATABASE_URL'), 'the device services hold no database connection');
  });
});

describe('the edge', () => {
  it('publishes the container ports it listens on (HTTP API and ETSI listener), on all interfaces', () => {
    assert.equal(typeof edgePort, 'number');
    const etsiPort = settingValue(edgeEnv, 'VIGIL_ETSI_PORT') ?? settings.VIGIL_ETSI_PORT.fallback();
    const ports = portsOf(edge, 'edge');
    assert.ok(ports.length > 0, 'edge must publish a port');
    for (const p of ports) assert.ok(p.target === edgePort || p.target === etsiPort, `edge publishes container port ${p.target} but listens on ${String(edgePort)} and ${String(etsiPort)}`);
    assert.ok(ports.some((p) => p.target === edgePort && p.published !== undefined), 'edge must publish its HTTP port to a host port');
    assert.ok(ports.some((p) => p.target === etsiPort && p.published !== undefined), 'edge must publish its ETSI port to a host port');
    for (const variable of ['VIGIL_HTTP_HOST', 'VIGIL_ETSI_HOST'] as const) {
      const host = settingValue(edgeEnv, variable);
      assert.ok(host === '0.0.0.0' || host === '::', `edge: ${variable} must be all interfaces in a container, not ${String(host)}`);
    }
  });

  it('has no database', () => {
    assert.ok(!edgeEnv.has('DATABASE_URL'), 'the edge holds no database connection');
    assert.ok(!dependsOn(edge, 'edge').has('postgres'), 'the edge does not wait for postgres');
  });

  it('is health-checked on /health/ready, with a script the image holds', () => {
    const check = healthcheckOf(edge, 'edge');
    assert.match(check, /\/health\/ready/);
    const script = /\bdeploy\/\S+\.m?js\b/.exec(check)?.[0];
    if (script !== undefined) assert.ok(existsSync(join(root, script)), `edge healthcheck: ${script} does not exist`);
  });
});

describe('the NATS cluster', () => {
  it('has a distinct conf per node, naming the node as compose does', () => {
    assert.equal(new Set(natsNodes.map((n) => n.confPath)).size, natsNodes.length, 'each node gets its own conf');
    for (const node of natsNodes) assert.equal(node.conf['server_name'], node.service, `${node.confPath}: server_name`);
  });

  it('enables JetStream with its store on a volume', () => {
    for (const node of natsNodes) {
      const js = node.conf['jetstream'];
      assert.ok(isConfMap(js), `${node.confPath}: jetstream { } block missing`);
      const storeDir = js['store_dir'];
      assert.ok(typeof storeDir === 'string' && storeDir.length > 0, `${node.confPath}: jetstream.store_dir missing`);
      assert.ok(
        volumesOf(service(node.service), node.service).some((m) => m.target === storeDir),
        `${node.service}: no volume holds the JetStream store ${storeDir}`,
      );
    }
  });

  it('routes each node to all three, on the cluster port, in one named cluster', () => {
    const clusterNames = new Set<ConfValue | undefined>();
    for (const node of natsNodes) {
      const cluster = node.conf['cluster'];
      assert.ok(isConfMap(cluster), `${node.confPath}: cluster { } block missing`);
      clusterNames.add(cluster['name']);
      const clusterPort = portOf(cluster['listen']) ?? (typeof cluster['port'] === 'number' ? cluster['port'] : undefined);
      assert.ok(clusterPort !== undefined, `${node.confPath}: cluster.listen needs a port`);
      const routes = cluster['routes'];
      assert.ok(Array.isArray(routes), `${node.confPath}: cluster.routes missing`);
      assert.equal(routes.length, 3, `${node.confPath}: 3 routes`);
      const hosts: string[] = [];
      for (const route of routes) {
        assert.ok(typeof route === 'string', `${node.confPath}: a route must be a URL`);
        const url = new URL(route);
        assert.equal(url.protocol, 'nats-route:', `${node.confPath}: ${route}`);
        assert.equal(Number(url.port), clusterPort, `${node.confPath}: ${route} must use the cluster port ${clusterPort}`);
        hosts.push(url.hostname);
      }
      assert.deepEqual(hosts.sort(), natsNames, `${node.confPath}: routes must name ${natsNames.join(', ')}`);
    }
    assert.equal(clusterNames.size, 1, 'all nodes share one cluster name');
    assert.equal([...clusterNames][0], 'vigil');
  });

  it('is health-checked on the monitoring port with JetStream enabled', () => {
    for (const node of natsNodes) {
      const http = node.conf['http'] ?? node.conf['http_port'];
      const monitorPort = portOf(http);
      assert.ok(monitorPort !== undefined, `${node.confPath}: http monitoring port missing`);
      const check = healthcheckOf(service(node.service), node.service);
      assert.match(check, /\bwget\b/, `${node.service}: healthcheck uses wget (the alpine image has no curl)`);
      const url = /https?:\/\/\S+/.exec(check)?.[0];
      assert.ok(url, `${node.service}: healthcheck has no URL`);
      const parsed = new URL(url);
      assert.equal(Number(parsed.port), monitorPort, `${node.service}: healthcheck port must be the conf's http port`);
      assert.equal(parsed.pathname, '/healthz');
      assert.equal(parsed.searchParams.get('js-enabled-only'), 'true');
    }
  });
});

describe('postgres', () => {
  const pg = service('postgres');

  it('runs TimescaleDB with a pg_isready healthcheck', () => {
    const image = pg['image'];
    assert.ok(typeof image === 'string' && image.includes('timescale'), `postgres image ${String(image)} must be TimescaleDB`);
    assert.match(healthcheckOf(pg, 'postgres'), /\bpg_isready\b/);
  });

  it('mounts init.sql, which enables timescaledb only where available', () => {
    const init = volumesOf(pg, 'postgres').find((m) => m.target.startsWith('/docker-entrypoint-initdb.d/'));
    assert.ok(init, 'postgres: nothing mounted into /docker-entrypoint-initdb.d');
    const source = bindSource(init);
    assert.ok(source !== undefined && source.endsWith('.sql'), 'postgres: the init script must be a .sql file from deploy/');
    const sql = read(source).toLowerCase();
    assert.match(sql, /\bdo\s+\$\$/, 'init.sql: the extension must be created inside a DO block');
    assert.match(sql, /pg_available_extensions/, 'init.sql: must check pg_available_extensions');
    assert.match(sql, /create extension if not exists timescaledb/);
    assert.ok(sql.indexOf('pg_available_extensions') < sql.indexOf('create extension'), 'init.sql: check before create');
  });
});

describe('the Dockerfile', () => {
  const final = dockerStages.at(-1) ?? [];
  const first = dockerStages[0] ?? [];
  const all = (stage: Instruction[], keyword: string) => stage.filter((i) => i.keyword === keyword);

  it('has several stages, the last on node:20-bookworm-slim', () => {
    assert.ok(dockerStages.length >= 2, 'multi-stage');
    assert.match(final[0]?.args ?? '', /^node:20-bookworm-slim(\s|$)/);
  });

  it('runs the final stage as a user other than root, in /app, in production mode', () => {
    const user = all(final, 'USER').at(-1)?.args;
    assert.ok(user, 'final stage has no USER');
    const name = user.split(':')[0];
    assert.ok(name !== 'root' && name !== '0', `final stage runs as ${user}`);
    assert.equal(all(final, 'WORKDIR').at(-1)?.args, '/app');
    assert.ok(
      all(final, 'ENV').some((e) => /(^|\s)NODE_ENV=production(\s|$)/.test(e.args)),
      'final stage sets NODE_ENV=production',
    );
  });

  it("exposes the edge's port", () => {
    const exposed = all(final, 'EXPOSE').flatMap((e) => e.args.split(/\s+/).map((p) => Number(p.split('/')[0])));
    assert.ok(exposed.includes(Number(edgePort)), `EXPOSE ${exposed.join(' ')} does not include the edge port ${String(edgePort)}`);
  });

  it('installs the pnpm of package.json from the workspace manifests before copying the sources', () => {
    const pkg: unknown = JSON.parse(read('package.json'));
    assert.ok(isDict(pkg), 'package.json');
    const pm = pkg['packageManager'];
    assert.ok(typeof pm === 'string' && pm.startsWith('pnpm@'), 'package.json packageManager');
    const runs = all(first, 'RUN').map((r) => r.args);
    assert.ok(runs.some((r) => r.includes(`npm i -g ${pm}`) || r.includes(`npm install -g ${pm}`)), `first stage must install ${pm}`);

    const installAt = first.findIndex((i) => i.keyword === 'RUN' && /pnpm install\b.*--frozen-lockfile/.test(i.args));
    assert.ok(installAt > 0, 'first stage must run pnpm install --frozen-lockfile');
    const copies = first.slice(0, installAt).filter((i) => i.keyword === 'COPY').map((i) => copyParts(i.args));
    const copied = copies.flatMap((c) => c.sources);
    const workspace: unknown = parse(read('pnpm-workspace.yaml'));
    assert.ok(isDict(workspace) && isStringArray(workspace['packages']), 'pnpm-workspace.yaml packages');
    const wanted = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', ...workspace['packages'].map((p) => `${p}/package.json`)];
    if (existsSync(join(root, '.npmrc'))) wanted.push('.npmrc');
    for (const w of wanted) assert.ok(copied.includes(w), `the manifest COPY before pnpm install misses ${w}`);
    for (const c of copies) {
      if (c.sources.some((s) => s.includes('/') && s.includes('*'))) {
        assert.ok(c.flags.includes('--parents'), 'a globbed manifest COPY needs --parents to keep each package.json at its path');
      }
    }
    const sourcesAt = first.findIndex((i) => i.keyword === 'COPY' && copyParts(i.args).sources.includes('.'));
    assert.ok(sourcesAt > installAt, 'the sources are copied after pnpm install');
  });

  it("defaults to a service that exists, and the image can run tsx", () => {
    const arg = all(final, 'ARG').find((a) => a.args.startsWith('SERVICE='));
    assert.ok(arg, 'final stage needs ARG SERVICE=<default>');
    const name = arg.args.slice('SERVICE='.length);
    assert.ok(existsSync(join(root, 'services', name)) && statSync(join(root, 'services', name)).isDirectory(), `no services/${name}`);
    const pkg: unknown = JSON.parse(read('package.json'));
    assert.ok(isDict(pkg));
    const deps = { ...(isDict(pkg['dependencies']) ? pkg['dependencies'] : {}), ...(isDict(pkg['devDependencies']) ? pkg['devDependencies'] : {}) };
    assert.ok(Object.hasOwn(deps, 'tsx'), 'the root package must depend on tsx, which runs every service');
  });

  it('.dockerignore keeps dependencies, git and local state out of the context', () => {
    const lines = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith('#'));
    for (const entry of ['node_modules', '**/node_modules', '.git', '.vigil', '.turbo', '.env']) {
      assert.ok(lines.includes(entry), `.dockerignore must list ${entry}`);
    }
  });
});
