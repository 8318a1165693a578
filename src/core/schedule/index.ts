export * from './cron.ts';
export * from './windows.ts';
export * from './decide.ts';
