import { nanos } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { StreamName } from '@vigil/schemas';
import { StreamConfigError } from './errors.ts';
import type { BusNames } from './names.ts';

const day = 24 * 60 * 60 * 1000;

/** What Vigil declares about a stream; everything else is the server's default. */
export interface StreamDeclaration {
  readonly name: StreamName;
  /** Plain subjects (the namespace is added when the stream is created). */
  readonly subjects: readonly string[];
  readonly description: string;
  readonly maxAgeMs: number;
  readonly denyDelete: boolean;
  readonly denyPurge: boolean;
  readonly duplicateWindowMs: number;
}

/** The contract of DESIGN.md, in code. */
export const streamDeclarations: readonly StreamDeclaration[] = [
  {
    name: StreamName.KeySupply,
    subjects: ['keysupply.>'],
    description: 'Sealed key material blocks from QKD links; a block is securely erased once spent.',
    maxAgeMs: 0,
    denyDelete: false,
    denyPurge: false,
    duplicateWindowMs: 2 * 60 * 1000,
  },
  {
    name: StreamName.KeyRequest,
    subjects: ['keyreq.>'],
    description: 'Allocations of key material to SAE pairs, retrievals and expiries.',
    maxAgeMs: 5 * 365 * day,
    denyDelete: false,
    denyPurge: false,
    duplicateWindowMs: 2 * 60 * 1000,
  },
  {
    name: StreamName.AuthEvent,
    subjects: ['auth.>'],
    description: 'Tenants, users, roles, sessions, API keys, MFA and lockouts.',
    maxAgeMs: 0,
    denyDelete: false,
    denyPurge: false,
    duplicateWindowMs: 2 * 60 * 1000,
  },
  {
    name: StreamName.DeviceTelemetry,
    subjects: ['telemetry.>'],
    description: 'Readings, heartbeats and TALQ data, kept by age.',
    maxAgeMs: 30 * day,
    denyDelete: false,
    denyPurge: false,
    duplicateWindowMs: 2 * 60 * 1000,
  },
  {
    name: StreamName.DeviceRegistry,
    subjects: ['device.>'],
    description: 'Device registry events, kept for ever.',
    maxAgeMs: 0,
    denyDelete: false,
    denyPurge: false,
    duplicateWindowMs: 2 * 60 * 1000,
  },
  {
    name: StreamName.Audit,
    subjects: ['audit.>'],
    description: 'Security events; nothing is ever deleted or purged.',
    maxAgeMs: 0,
    denyDelete: true,
    denyPurge: true,
    duplicateWindowMs: 2 * 60 * 1000,
  },
];

export function streamOf(name: StreamName): StreamDeclaration {
  const found = streamDeclarations.find((s) => s.name === name);
  if (!found) throw new Error(`no stream ${name}`);
  return found;
}

/** The plain subject's stream, by its first token. */
export function streamForSubject(subject: string): StreamDeclaration {
  const first = subject.split('.', 1)[0];
  const found = streamDeclarations.find((s) => s.subjects.some((p) => p.split('.', 1)[0] === first));
  if (!found) throw new Error(`no stream holds subject ${subject}`);
  return found;
}

export function streamConfig(declaration: StreamDeclaration, names: BusNames, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: names.stream(declaration.name),
    subjects: declaration.subjects.map((s) => names.subject(s)),
    description: declaration.description,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(declaration.maxAgeMs),
    max_msgs: -1,
    max_bytes: -1,
    max_msgs_per_subject: -1,
    num_replicas: replicas,
    duplicate_window: nanos(declaration.duplicateWindowMs),
    deny_delete: declaration.denyDelete,
    deny_purge: declaration.denyPurge,
    allow_direct: true,
  };
}

/** Fields Vigil sets, compared with what the server has. */
const compared = [
  'subjects',
  'description',
  'retention',
  'storage',
  'discard',
  'max_age',
  'max_msgs',
  'max_bytes',
  'max_msgs_per_subject',
  'num_replicas',
  'duplicate_window',
  'deny_delete',
  'deny_purge',
  'allow_direct',
] as const;

export function configDrift(wanted: Partial<StreamConfig>, actual: StreamConfig): string[] {
  const drift: string[] = [];
  for (const field of compared) {
    const a = JSON.stringify(actual[field] ?? null);
    const w = JSON.stringify(wanted[field] ?? null);
    if (a !== w) drift.push(`${field}: ${a} → ${w}`);
  }
  return drift;
}

export type StreamOutcome = { name: string; action: 'created' | 'unchanged' | 'updated'; drift: string[] };

/**
 * Creates each stream or brings it to the declared config. A stream that drifted is updated; when the server
 * refuses the update (storage or retention cannot change, deny_delete cannot be lifted) start-up fails with a
 * message naming the fields, never running on a silently different stream.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: BusNames,
  replicas: number,
  declarations: readonly StreamDeclaration[] = streamDeclarations,
): Promise<StreamOutcome[]> {
  const outcomes: StreamOutcome[] = [];
  for (const declaration of declarations) {
    const wanted = streamConfig(declaration, names, replicas);
    let info: StreamInfo | undefined;
    try {
      info = await jsm.streams.info(wanted.name);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    if (!info) {
      await jsm.streams.add(wanted);
      outcomes.push({ name: wanted.name, action: 'created', drift: [] });
      continue;
    }
    const drift = configDrift(wanted, info.config);
    if (drift.length === 0) {
      outcomes.push({ name: wanted.name, action: 'unchanged', drift });
      continue;
    }
    try {
      await jsm.streams.update(wanted.name, wanted);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new StreamConfigError(wanted.name, `config differs (${drift.join('; ')}) and the server refused the update: ${reason}`);
    }
    outcomes.push({ name: wanted.name, action: 'updated', drift });
  }
  return outcomes;
}
