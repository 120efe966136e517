export { envExample } from './env-example.ts';
export { ConfigError, loadConfig, readEnvFile, settings, type Config, type VariableName } from './config.ts';
