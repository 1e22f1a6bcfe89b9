// The UI's one door to the reader daemon: requests through the shell's `daemon_request` command, events and
// connection changes over the channel this window hands to `daemon_events`. The shell keeps one connection per
// window (the kiosk window's may only drive the kiosk), so this state is this window's alone. State lives
// here; the screens render it.

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AppError,
  AppInfo,
  CentralLink,
  CheckInRecord,
  ConnectionView,
  DaemonEvent,
  KioskDisplay,
  KioskScreen,
  OutboxCounts,
  Request,
  SharedStoreLink,
  Response,
  StatusReport,
  TerminalRole,
} from "./types";

export class RequestFailed extends Error {
  code: string;
  constructor(error: AppError) {
    super(error.message);
    this.code = error.code;
  }
}

function asAppError(e: unknown): AppError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    return { code: String(e.code), message: String(e.message) };
  }
  return { code: "ipc", message: String(e) };
}

/** Sends one request; throws [`RequestFailed`] with the daemon's code and message. */
export async function request<K extends Response["kind"]>(
  req: Request,
  expect: K,
): Promise<Extract<Response, { kind: K }>> {
  let response: Response;
  try {
    response = await invoke<Response>("daemon_request", { request: req });
  } catch (e) {
    throw new RequestFailed(asAppError(e));
  }
  if (response.kind !== expect) {
    throw new RequestFailed({ code: "unexpected", message: `unexpected answer ${response.kind}` });
  }
  return response as Extract<Response, { kind: K }>;
}

/** How long a failed re-read waits before it is tried again. */
const REFRESH_RETRY_MS = 1000;

/** What the shell sends this window over its channel. */
type WindowMessage = { type: "daemon"; event: DaemonEvent } | { type: "connection"; view: ConnectionView };

/** What every screen shares: the connection, the central link, the readers and today's check-ins. */
class Live {
  connection = $state<ConnectionView>({ connected: false, socket: "", can_start: false });
  info = $state<AppInfo>({ version: "", fullscreen: false });
  central = $state<CentralLink>({ state: "unknown" });
  outbox = $state<OutboxCounts>({ received: 0, sending: 0, answered: 0, failed: 0 });
  kiosks = $state<Record<string, KioskScreen>>({});
  /** Per reader: the facility's display for a new patient, and the seconds left while the daemon counts down. */
  kioskDisplays = $state<Record<string, KioskDisplay>>({});
  countdowns = $state<Record<string, number | undefined>>({});
  cardPresent = $state<Record<string, boolean>>({});
  checkIns = $state<CheckInRecord[]>([]);
  /** When each check-in arrived in this window (ms since the epoch), for the "within 1 s" figure. */
  arrivedAt = $state<Record<string, number>>({});
  /** The facility-wide store; undefined on a terminal with only its own store. */
  shared = $state<SharedStoreLink | undefined>(undefined);
  daemonVersion = $state("");
  /** What the daemon says this terminal is for (a viewer shows the viewing screens only). */
  role = $state<TerminalRole>("reception");
  loaded = $state(false);

  private started = false;
  /** Counts refreshes, so that an older one still retrying gives way to a newer one. */
  private refreshes = 0;
  /** The patient's screen: its connection may read the status and drive the kiosk, nothing else. */
  private kiosk = false;

  async start(kiosk: boolean): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.kiosk = kiosk;
    this.info = await invoke<AppInfo>("app_info");
    const channel = new Channel<WindowMessage>();
    channel.onmessage = (message) => {
      if (message.type === "daemon") {
        this.apply(message.event);
      } else {
        const wasConnected = this.connection.connected;
        this.connection = message.view;
        if (message.view.connected && !wasConnected) void this.refresh();
      }
    };
    await invoke("daemon_events", { channel });
  }

  /**
   * Re-reads everything (after connecting, or when events were missed). A failed read is tried again every
   * second while the connection is up: until it succeeds the list could still hold another day's (or another
   * daemon's) check-ins.
   */
  async refresh(): Promise<void> {
    const generation = ++this.refreshes;
    for (;;) {
      try {
        const [status, today] = await Promise.all([
          request({ kind: "status" }, "status"),
          this.kiosk ? undefined : request({ kind: "today_check_ins" }, "check_ins"),
        ]);
        // A later refresh (a newer connection) has the last word.
        if (generation !== this.refreshes) return;
        this.applyStatus(status);
        if (today) this.checkIns = today.check_ins;
        this.loaded = true;
        return;
      } catch (e) {
        console.warn("refresh failed", e);
      }
      await new Promise((resolve) => setTimeout(resolve, REFRESH_RETRY_MS));
      if (generation !== this.refreshes || !this.connection.connected) return;
    }
  }

  private applyStatus(status: StatusReport): void {
    this.central = status.central;
    this.outbox = status.outbox;
    this.shared = status.shared_store;
    this.daemonVersion = status.daemon_version;
    this.role = status.role ?? "reception";
    const kiosks: Record<string, KioskScreen> = {};
    const cards: Record<string, boolean> = {};
    const displays: Record<string, KioskDisplay> = {};
    const countdowns: Record<string, number | undefined> = {};
    for (const r of status.readers) {
      kiosks[r.name] = r.kiosk;
      cards[r.name] = r.card_present;
      if (r.display) displays[r.name] = r.display;
      countdowns[r.name] = r.countdown;
    }
    this.kioskDisplays = displays;
    this.countdowns = countdowns;
    this.kiosks = kiosks;
    this.cardPresent = cards;
  }

  private apply(event: DaemonEvent): void {
    switch (event.event) {
      case "kiosk":
        this.kiosks[event.reader] = event.screen;
        if (event.display) this.kioskDisplays[event.reader] = event.display;
        this.countdowns[event.reader] = event.countdown;
        break;
      case "reader":
        if (event.change === "detached") {
          delete this.kiosks[event.reader];
          delete this.cardPresent[event.reader];
        } else if (event.change === "attached") {
          this.kiosks[event.reader] ??= { screen: "idle" };
        } else {
          this.cardPresent[event.reader] = event.change === "card_inserted";
        }
        break;
      case "check_in": {
        const c = event.check_in;
        this.arrivedAt[c.check_in_id] = Date.now();
        this.checkIns = [c, ...this.checkIns.filter((x) => x.check_in_id !== c.check_in_id)];
        break;
      }
      case "outbox":
        this.outbox = event.counts;
        break;
      case "central_link":
        this.central = event.link;
        break;
      case "shared_store": {
        const back = event.link.reachable && this.shared?.reachable === false;
        this.shared = event.link;
        // Back from an outage: the other terminals' check-ins are readable again.
        if (back) void this.refresh();
        break;
      }
      case "lagged":
        void this.refresh();
        break;
    }
  }

  /** The reader this window's kiosk follows: the one named at start, else the only (first) one. */
  kioskReader(): string | undefined {
    if (this.info.kiosk_reader) return this.info.kiosk_reader;
    return Object.keys(this.kiosks).sort()[0];
  }

  pendingOutage(): number {
    return this.checkIns.filter((c) => c.outcome === "pending_outage").length;
  }
}

export const live = new Live();

export async function startDaemon(): Promise<void> {
  try {
    await invoke("start_daemon");
  } catch (e) {
    throw new RequestFailed(asAppError(e));
  }
}

export async function openKioskWindow(): Promise<void> {
  await invoke("open_kiosk_window");
}

/** Tells the shell the first screen is live; returns milliseconds since the process started. */
export async function markInteractive(): Promise<number> {
  return invoke<number>("mark_interactive");
}
