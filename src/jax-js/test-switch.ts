/**
 * A switch tests turn on to run, on the wasm device (whose results Node can read, in CI), what the
 * adapter does on the GPU devices: off unless a test's `during` is running. Internal (not exported
 * from the package).
 */
export class TestSwitch {
  private state = false;

  /** Whether a test has it on. */
  on(): boolean {
    return this.state;
  }

  /**
   * Runs `fn` with the switch on, then restores it. Traces made inside `fn` (a `jit`'s first call)
   * keep what they were built with.
   */
  async during<T>(fn: () => Promise<T>): Promise<T> {
    const saved = this.state;
    this.state = true;
    try {
      return await fn();
    } finally {
      this.state = saved;
    }
  }
}
