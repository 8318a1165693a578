// A logger that writes nowhere, for tests that do not look at logs.
import winston from 'winston';
import type { Logger } from '../../../src/observability/logger.ts';

export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
