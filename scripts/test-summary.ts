// Prints the CI summary line from jest's JSON report. Skipped and todo tests count as failures,
// and so does a test file that failed to run at all (it reports no tests).
import { readFileSync } from 'node:fs';

interface JestSummary {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numRuntimeErrorTestSuites: number;
  numTotalTests: number;
}

const file = process.argv[2] ?? 'test-results/jest.json';
let report: JestSummary;
try {
  report = JSON.parse(readFileSync(file, 'utf8')) as JestSummary;
} catch (err) {
  console.log(`jest wrote no readable report at ${file}: ${(err as Error).message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const failed = report.numFailedTests + report.numPendingTests + report.numTodoTests + report.numRuntimeErrorTestSuites;
if (report.numPendingTests + report.numTodoTests > 0) {
  console.log(`${report.numPendingTests + report.numTodoTests} skipped/todo tests counted as failures`);
}
if (report.numRuntimeErrorTestSuites > 0) console.log(`${report.numRuntimeErrorTestSuites} test files failed to run`);
console.log(`${report.numPassedTests} passed, ${failed} failed`);
process.exit(failed > 0 || report.numTotalTests === 0 ? 1 : 0);
