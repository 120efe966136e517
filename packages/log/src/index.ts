export { currentContext, withContext, type WorkContext } from './context.ts';
export { createLogger, redactPaths, securityLogger, type Logger, type LoggerSettings, type SecurityCategory } from './logger.ts';
