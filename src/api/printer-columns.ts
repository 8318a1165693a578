// `kubectl get tks` columns. JSONPath only selects; it cannot concatenate, which is why the status
// carries pods.summary ("3/3") for the Converged column.
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export const PRINTER_COLUMNS: PrinterColumn[] = [
  { name: 'Active', type: 'string', jsonPath: '.status.activeKey.fingerprint', description: 'Fingerprint of the key that encrypts new tickets.' },
  { name: 'Generation', type: 'integer', jsonPath: '.status.keyGeneration', description: 'Generation of the current ring.' },
  { name: 'Converged', type: 'string', jsonPath: '.status.pods.summary', description: 'Pods holding the current ring / selected pods.' },
  { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Stable, Staging, Promoting or Revoking.' },
  { name: 'Last Rotation', type: 'date', jsonPath: '.status.lastRotationTime', description: 'When the last key was promoted.' },
  // A string, not a date: kubectl renders a future date column as "<invalid>".
  { name: 'Next Rotation', type: 'string', jsonPath: '.status.nextRotationTime', description: 'When the next scheduled rotation starts (RFC 3339).' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Every selected pod holds the current ring.' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since the TicketKeySet was created.' },
];
