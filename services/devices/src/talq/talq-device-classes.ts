/**
 * The TALQ device classes Vigil's gateway offers (TALQ Smart City Protocol 2.7, Lighting profile): for each class,
 * its functions and the attributes Vigil reports for them, and which Vigil telemetry metric carries each attribute.
 * A device's class comes from its registry profile (`talq.device_class`); its TALQ address from `talq.address`.
 *
 * A reading reaches a TALQ attribute under `<functionId>.<attributeName>` (e.g. `lampMonitor1.activePower`), or
 * under one of the attribute's plain metric names (`activePower`, `power`). Types, units and scopes are the TALQ data
 * model's (oas/talq-data-model-2-7-1-online.json).
 */
export type TalqAttributeType = 'AttributeFloat' | 'AttributeInteger' | 'AttributePercent' | 'AttributeBoolean' | 'AttributeLevelState' | 'AttributeCommand';
export type TalqScope = 'configuration' | 'measurement' | 'operational' | 'event';

export interface TalqAttributeModel {
  readonly name: string;
  readonly type: TalqAttributeType;
  readonly scope: TalqScope;
  /** A TalqUnitEnum value. */
  readonly unit: string;
  /** Plain metric names that carry it (besides `<functionId>.<name>`); empty for what does not come from readings. */
  readonly metrics: readonly string[];
}

export interface TalqFunctionModel {
  readonly id: string;
  readonly type: string;
  readonly attributes: readonly TalqAttributeModel[];
  /** Takes override commands: a light level (TALQ LevelState, 0 to 100 %) sent to the device. */
  readonly actuator: boolean;
}

export interface TalqDeviceClassModel {
  readonly name: string;
  readonly functions: readonly TalqFunctionModel[];
}

const measured = (name: string, type: TalqAttributeType, unit: string, metrics: readonly string[]): TalqAttributeModel => ({ name, type, scope: 'measurement', unit, metrics });
const event = (name: string, metrics: readonly string[] = [name]): TalqAttributeModel => ({ name, type: 'AttributeBoolean', scope: 'event', unit: 'None', metrics });

/** Identification, from the registry profile (display name, serial number, hardware type); mandatory in every device. */
const basic: TalqFunctionModel = { id: 'basic1', type: 'BasicFunction', attributes: [], actuator: false };
/** Presence: `communicationFailure` starts when the device goes offline and ends when it comes back. */
const communication: TalqFunctionModel = { id: 'communication1', type: 'CommunicationFunction', attributes: [event('communicationFailure', [])], actuator: false };

const lampActuator: TalqFunctionModel = {
  id: 'lampActuator1',
  type: 'LampActuatorFunction',
  actuator: true,
  attributes: [
    measured('actualLightState', 'AttributeLevelState', 'Percent', ['lampLevel', 'actualLightState']),
    { name: 'targetLightCommand', type: 'AttributeCommand', scope: 'operational', unit: 'None', metrics: ['targetLevel', 'targetLightCommand'] },
  ],
};
const lampMonitor: TalqFunctionModel = {
  id: 'lampMonitor1',
  type: 'LampMonitorFunction',
  actuator: false,
  attributes: [
    measured('activePower', 'AttributeFloat', 'Watts', ['activePower', 'power']),
    measured('activeEnergy', 'AttributeFloat', 'KiloWattHours', ['activeEnergy', 'energy']),
    measured('supplyVoltage', 'AttributeFloat', 'Volts', ['supplyVoltage', 'voltage']),
    measured('supplyCurrent', 'AttributeFloat', 'Amperes', ['supplyCurrent', 'current']),
    measured('powerFactor', 'AttributeFloat', 'None', ['powerFactor']),
    measured('operatingHours', 'AttributeFloat', 'Hours', ['operatingHours']),
    measured('switchOnCounter', 'AttributeInteger', 'None', ['switchOnCounter']),
    event('lampFailure'),
    event('dimmingFailure'),
  ],
};
const lightSensor: TalqFunctionModel = {
  id: 'lightSensor1',
  type: 'LightSensorFunction',
  actuator: false,
  attributes: [measured('lightLevel', 'AttributeFloat', 'Illuminance', ['lightLevel', 'illuminance', 'lux'])],
};
const electricalMeter: TalqFunctionModel = {
  id: 'electricalMeter1',
  type: 'ElectricalMeterFunction',
  actuator: false,
  attributes: [
    measured('totalPower', 'AttributeFloat', 'KiloWatt', ['totalPower']),
    measured('totalActiveEnergy', 'AttributeFloat', 'KiloWattHours', ['totalActiveEnergy', 'energy']),
    measured('supplyVoltage', 'AttributeFloat', 'Volts', ['supplyVoltage', 'voltage']),
    measured('totalCurrent', 'AttributeFloat', 'Amperes', ['totalCurrent', 'current']),
    measured('totalPowerFactor', 'AttributeFloat', 'None', ['totalPowerFactor', 'powerFactor']),
    measured('frequency', 'AttributeFloat', 'Hertz', ['frequency']),
    event('supplyLoss'),
  ],
};

export const talqDeviceClasses: readonly TalqDeviceClassModel[] = [
  /** A luminaire controller: dims its lamp and monitors it. */
  { name: 'LuminaireController', functions: [basic, lampActuator, lampMonitor, communication] },
  { name: 'LightSensor', functions: [basic, lightSensor, communication] },
  { name: 'EnergyMeter', functions: [basic, electricalMeter, communication] },
];

export function talqDeviceClass(name: string): TalqDeviceClassModel | undefined {
  return talqDeviceClasses.find((c) => c.name === name);
}

/** The function and attribute a metric carries in a class, or undefined when it carries none. */
export function attributeOfMetric(model: TalqDeviceClassModel, metric: string): { fn: TalqFunctionModel; attribute: TalqAttributeModel } | undefined {
  const dot = metric.indexOf('.');
  if (dot > 0) {
    const fn = model.functions.find((f) => f.id === metric.slice(0, dot));
    const attribute = fn?.attributes.find((a) => a.name === metric.slice(dot + 1));
    return fn && attribute ? { fn, attribute } : undefined;
  }
  for (const fn of model.functions) {
    const attribute = fn.attributes.find((a) => a.metrics.includes(metric));
    if (attribute) return { fn, attribute };
  }
  return undefined;
}

/** The TALQ DeviceClass object (GET /device-classes). Reported attributes are read-only: the CMS cannot set them. */
export function deviceClassDescription(model: TalqDeviceClassModel): Record<string, unknown> {
  return {
    name: model.name,
    functions: model.functions.map((fn) => ({
      functionId: fn.id,
      type: fn.type,
      attributes: [
        ...(fn.type === 'BasicFunction' ? ['displayName', 'serial', 'hwType'].map((name) => ({ name, unit: 'None', readOnly: true })) : []),
        ...fn.attributes
          .filter((a) => a.scope !== 'event')
          .map((a) => ({
            name: a.name,
            unit: a.unit,
            readOnly: true,
            ...(a.type === 'AttributeCommand'
              ? {
                  commands: {
                    scope: 'override',
                    states: [{ name: 'LevelState' }],
                    levels: [{ start: 0, end: 100 }],
                    attributes: ['start', 'expiration', 'rampToLevelTime', 'rampFromLevelTime', 'cmsRefId'],
                  },
                }
              : {}),
          })),
      ],
      events: fn.attributes.filter((a) => a.scope === 'event').map((a) => ({ type: a.name })),
    })),
  };
}
