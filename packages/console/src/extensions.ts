/**
 * The hub's newer endpoints the console reads: live nodes (GET /nodes), a message's history
 * (GET .../deviceBound/history, both Ferry extensions, ServiceConnect) and jobs (GET /jobs/v2/query,
 * POST /jobs/v2/{id}/cancel, as azure-iothub's JobClient calls them).
 */
import type { HubApi } from './api.js';

export interface HubNodes {
  connectedDevices: number;
  nodes: Array<{
    nodeId: string;
    address: string;
    connections: number;
    startedTimeUtc: string;
    lastHeartbeatTimeUtc: string;
  }>;
}

export function hubNodes(api: HubApi): Promise<HubNodes> {
  return api.json('GET', '/nodes');
}

export interface HistoryStep {
  kind: string;
  timeUtc: string;
  [field: string]: unknown;
}

export interface MessageHistory {
  deviceId: string;
  messageId: string;
  copies: Array<{ sequenceNumber: number; ended: boolean; steps: HistoryStep[] }>;
}

export function messageHistory(api: HubApi, deviceId: string, messageId: string): Promise<MessageHistory> {
  return api.json('GET', `/devices/${encodeURIComponent(deviceId)}/messages/deviceBound/history`, {
    query: { messageId },
  });
}

export interface Job {
  jobId: string;
  type: string;
  status: string;
  queryCondition?: string;
  createdTime?: string;
  startTime?: string;
  endTime?: string;
  failureReason?: string;
  deviceJobStatistics?: {
    deviceCount: number;
    failedCount: number;
    succeededCount: number;
    runningCount: number;
    pendingCount: number;
    cancelledCount?: number;
  };
}

/** The newest jobs first is the hub's order; at most 100. */
export function listJobs(api: HubApi): Promise<Job[]> {
  return api.json('GET', '/jobs/v2/query', { headers: { 'x-ms-max-item-count': '100' } });
}

export function cancelJob(api: HubApi, jobId: string): Promise<Job> {
  return api.json('POST', `/jobs/v2/${encodeURIComponent(jobId)}/cancel`);
}
