import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line and masked error of a request can name, wherever it is raised. */
export interface RequestScope {
  requestId: string;
  organizationId?: string | null;
  operationName?: string | null;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

export const currentRequest = (): RequestScope | undefined => requestScope.getStore();
