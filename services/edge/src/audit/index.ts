export { auditRoutes, type AuditRouteOptions } from './routes.ts';
