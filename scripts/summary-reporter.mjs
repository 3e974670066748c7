// Node test-runner reporter that closes the run with the plain line CI counts:
// "N passed, N failed". Suites are not counted, only the tests inside them.
// When MW_TEST_TALLY names a file, the counts are appended to it so .ci/run can
// add several phases (PGlite, PostgreSQL, browser) into one closing line.
import { appendFileSync } from 'node:fs';

export default async function* summaryReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { details, skip, todo } = event.data;
    if (details?.type === 'suite') continue;
    if (event.type === 'test:fail') failed++;
    else if (skip || todo) skipped++;
    else passed++;
  }
  if (process.env.MW_TEST_TALLY) appendFileSync(process.env.MW_TEST_TALLY, `${passed} ${failed} ${skipped}\n`);
  yield `\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`;
}
