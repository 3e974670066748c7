// Public API of the phishing module (for the CLI, HTTP and SMTP integrations).
export { type ScanPathsOptions, type ScanRecord, type ScanSummary, scanPaths, splitMbox } from './cli.ts';
export { authResultsHeader, type StampOptions, stampGatewayHeaders } from './gateway.ts';
export { type LabelledMessage, type LearnOptions, learnFromVerdicts } from './learn.ts';
export { bundledModel, type Model } from './model.ts';
export { extractReportedMessage, type ReportedMessage } from './report.ts';
export { scanMessage } from './scan.ts';
export type {
  AuthSummary,
  ModelAdjustment,
  Reason,
  ScanOptions,
  ScanResult,
  Verdict,
  WorkspaceConfig,
} from './types.ts';
