export { deviceRoutes, type DeviceRouteOptions } from './routes.ts';
