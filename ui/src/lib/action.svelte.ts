// One screen action at a time: `busy` while it runs, `problem` with the daemon's words when it fails.
// Every screen that sends requests on a button uses one, so they all behave the same.

import { RequestFailed } from "./daemon.svelte";

export class Action {
  busy = $state(false);
  problem = $state("");

  async run(fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.problem = "";
    try {
      await fn();
    } catch (e) {
      this.problem = e instanceof RequestFailed ? e.message : String(e);
    } finally {
      this.busy = false;
    }
  }
}
