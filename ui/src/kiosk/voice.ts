// The kiosk's spoken guidance: the app's shell makes a WAV on this PC (`speak`: Open JTalk for Japanese,
// espeak-ng for the others) and the page plays it with WebAudio (decodeAudioData, a gain node at the facility's
// volume), as the countdown's tones are. One message at a time: a newer one stops the older, and an answer that
// arrives after a newer request is dropped. Only catalogue wording is ever passed here (ruby markup is removed by
// the shell); never a PIN digit.
//
// `window.__oqsSpeech` keeps a trace of each message (times from the screen's change to the WAV and to the
// start of playback, and how it ended) for the window tests, which run under Xvfb with no sound card.

import { invoke } from "@tauri-apps/api/core";

export interface SpeechTrace {
  /** What asked: the screen, `pin` for the pad, `repeat` for 🔊. */
  reason: string;
  lang: string;
  /** performance.now() when the screen changed (or the key was pressed). */
  shown: number;
  /** When the WAV was back from the shell. */
  ready?: number;
  /** When it was decoded and its playback started. */
  play?: number;
  /** `started`, `ended`, `no_voice` (the language has no voice), `superseded`, or what failed. */
  outcome?: string;
}

declare global {
  interface Window {
    __oqsSpeech?: SpeechTrace[];
  }
}

let latest = 0;
let context: AudioContext | undefined;
let current: AudioBufferSourceNode | undefined;

/** Stops what is being said, if anything. */
export function hush(): void {
  latest += 1;
  if (current) {
    try {
      current.stop();
    } catch {
      // Already stopped.
    }
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
  try {
    context ??= new AudioContext();
    // A suspended context (no gesture yet) still takes the sound; it is heard once the page may play.
    context.resume().catch(() => undefined);
    const buffer = await context.decodeAudioData(wav);
    if (mine !== latest) {
      trace.outcome = "superseded";
      return;
    }
    const source = context.createBufferSource();
    const gain = context.createGain();
    source.buffer = buffer;
    gain.gain.value = Math.min(1, Math.max(0, volume));
    source.connect(gain).connect(context.destination);
    source.onended = () => {
      if (current === source) current = undefined;
      trace.outcome = trace.outcome === "started" ? "ended" : trace.outcome;
    };
    current = source;
    source.start();
    trace.play = performance.now();
    trace.outcome = "started";
  } catch (e) {
    trace.outcome = `not played: ${(e as Error).name ?? String(e)}`;
    console.warn("the spoken guidance could not be played", e);
  }
}
