// The kiosk's spoken guidance: the app's shell makes a WAV on this PC (`speak`: Open JTalk for Japanese,
// espeak-ng for the others) and the page plays it in an <audio> element at the facility's volume. One message
// at a time: a newer one stops the older, and an answer that arrives after a newer request is dropped.
// Only catalogue wording is ever passed here (ruby markup is removed by the shell); never a PIN digit.
//
// `window.__oqsSpeech` keeps a trace of each message (times from the screen's change to the WAV and to
// play(), and how it ended) for the window tests, which run under Xvfb with no sound card.

import { invoke } from "@tauri-apps/api/core";

export interface SpeechTrace {
  /** What asked: the screen's key, `pin` for the pad, `repeat` for 🔊. */
  reason: string;
  lang: string;
  /** performance.now() when the screen changed (or the key was pressed). */
  shown: number;
  /** When the WAV was back from the shell. */
  ready?: number;
  /** When play() was called, and when it resolved. */
  play?: number;
  playing?: number;
  /** `no_voice` (the language has no voice), `superseded`, or what failed. */
  outcome?: string;
}

declare global {
  interface Window {
    __oqsSpeech?: SpeechTrace[];
  }
}

let latest = 0;
let current: { audio: HTMLAudioElement; url: string } | undefined;

/** Stops what is being said, if anything. */
export function hush(): void {
  latest += 1;
  if (current) {
    current.audio.pause();
    URL.revokeObjectURL(current.url);
    current = undefined;
  }
}

/** Says `markup` (catalogue wording) in `lang` at `volume` (0–1), instead of whatever is being said. */
export async function say(markup: string, lang: string, volume: number, reason: string): Promise<void> {
  hush();
  const mine = latest;
  const trace: SpeechTrace = { reason, lang, shown: performance.now() };
  (window.__oqsSpeech ??= []).push(trace);
  let wav: ArrayBuffer;
  try {
    wav = await invoke<ArrayBuffer>("speak", { text: markup, lang });
  } catch (e) {
    const code = (e as { code?: string } | undefined)?.code;
    trace.outcome = code === "no_voice" ? "no_voice" : `failed: ${code ?? String(e)}`;
    if (code !== "no_voice") console.warn("the spoken guidance could not be made", e);
    return;
  }
  trace.ready = performance.now();
  if (mine !== latest) {
    trace.outcome = "superseded";
    return;
  }
  const url = URL.createObjectURL(new Blob([wav], { type: "audio/wav" }));
  const audio = new Audio(url);
  audio.volume = Math.min(1, Math.max(0, volume));
  current = { audio, url };
  audio.onended = () => {
    if (current?.audio === audio) {
      URL.revokeObjectURL(url);
      current = undefined;
    }
  };
  trace.play = performance.now();
  try {
    await audio.play();
    trace.playing = performance.now();
    trace.outcome = "played";
  } catch (e) {
    // No sound device (a test display), or stopped by a newer message.
    trace.outcome = `not played: ${(e as Error).name ?? String(e)}`;
  }
}
