export { collectKeyReport, readSecretHistory, type CollectOptions } from './collect';
export { renderReportHtml } from './html';
export * from './model';
