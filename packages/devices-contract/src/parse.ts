import { replyParser, requestParser } from '@vigil/bus';
import {
  CommandAccepted,
  CommandDone,
  CredentialIssuedResult,
  Decommission,
  DevicePage,
  DeviceRegisteredResult,
  DeviceView,
  GetDevice,
  IssueCredential,
  ListDevices,
  ReadingsPage,
  ReadingsQuery,
  RegisterDevice,
  RevokeCredential,
  SendCommand,
  Series,
  SeriesQuery,
} from './messages.ts';

export const parseRegisterDevice = requestParser(RegisterDevice);
export const parseIssueCredential = requestParser(IssueCredential);
export const parseRevokeCredential = requestParser(RevokeCredential);
export const parseDecommission = requestParser(Decommission);
export const parseSendCommand = requestParser(SendCommand);
export const parseGetDevice = requestParser(GetDevice);
export const parseListDevices = requestParser(ListDevices);
export const parseReadingsQuery = requestParser(ReadingsQuery);
export const parseSeriesQuery = requestParser(SeriesQuery);

export const parseDeviceRegistered = replyParser(DeviceRegisteredResult, 'device registration');
export const parseCredentialIssued = replyParser(CredentialIssuedResult, 'device credential');
export const parseCommandDone = replyParser(CommandDone, 'device command');
export const parseCommandAccepted = replyParser(CommandAccepted, 'device command');
export const parseDeviceView = replyParser(DeviceView, 'device');
export const parseDevicePage = replyParser(DevicePage, 'device list');
export const parseReadingsPage = replyParser(ReadingsPage, 'readings');
export const parseSeries = replyParser(Series, 'series');
