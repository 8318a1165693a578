// Coordinates of the custom resource as the shells and informers need them (from src/api).
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../api/names.ts';

export const TICKETKEYSET = {
  group: GROUP,
  version: VERSION,
  plural: PLURAL,
  kind: KIND,
  apiVersion: API_VERSION,
} as const;

