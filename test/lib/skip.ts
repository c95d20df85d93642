// Tests that need something this machine may lack (a user namespace, a
// subordinate id range, a network backend) are skipped with the reason
// printed, never passed silently.
import type { Test } from 'uvu';

/** `testIf(reason, name, fn)`: runs `fn` as test `name`, or skips it printing `reason` when one is given. */
export function conditionalTest<T>(test: Test<T>) {
  return (reason: string | undefined, name: string, fn: (context: T) => Promise<void>): void => {
    if (reason) {
      console.log(`SKIP ${name}: ${reason}`);
      test.skip(name, fn);
    } else {
      test(name, fn);
    }
  };
}
