// The kiosk's words come from one JSON message catalogue per language in ./locales (flat keys, `{name}`
// placeholders, plural forms as `key.one` / `key.other`); this file only loads them into the typed `Words`.
// ja.json is the reference: furigana as <ruby> markup, and the consent wording is the official one
// (資格確認端末における診療情報の利用設定手順書, 2025-01). tests/e2e/tests/kiosk_catalogues.rs checks that every
// catalogue has exactly ja.json's keys, no empty value and the same placeholders.

import type { CheckInOutcome, ConsentItem, KioskNotice } from "../lib/types";
import en from "./locales/en.json";
import es from "./locales/es.json";
import ja from "./locales/ja.json";
import ko from "./locales/ko.json";
import ne from "./locales/ne.json";
import pt from "./locales/pt.json";
import tl from "./locales/tl.json";
import vi from "./locales/vi.json";
import zhHans from "./locales/zh-Hans.json";

/** BCP 47 tags, as the page's `lang` attribute takes them; the chooser lists them in this order. */
export const LANGS = ["ja", "en", "zh-Hans", "ko", "vi", "pt", "es", "tl", "ne"] as const;
export type Lang = (typeof LANGS)[number];

/** A catalogue: every key of ja.json (the `satisfies` below makes a missing key a type error too). */
type Catalogue = Record<keyof typeof ja, string>;

const catalogues = {
  ja,
  en,
  "zh-Hans": zhHans,
  ko,
  vi,
  pt,
  es,
  tl,
  ne,
} satisfies Record<Lang, Catalogue>;

/** Markup with ruby is trusted text from the catalogues only; nothing from the daemon goes through it. */
export interface Words {
  /** The language's own name, for the chooser (日本語, English, 简体中文 …). */
  languageName: string;
  chooseLanguage: string;
  /** The display modes a patient may switch on for their own check-in on the first screen. */
  layoutSeated: string;
  highContrast: string;
  /** 「あと N 秒で最初の画面に戻ります」, before the inactivity time-out, and its 「続ける」 button. */
  countdown: (n: number) => string;
  keepGoing: string;
  chooserTitle: string;
  /** 「正式な文言」 in this language: marks the official Japanese consent wording shown beside a translation. */
  officialWording: string;
  placeCard: string;
  placeCardSub: string;
  /** The smartphone guide the patient opens from the first screen: which phone, then where to hold it. */
  phone: {
    button: string;
    chooseTitle: string;
    iphone: string;
    android: string;
    tapTitle: string;
    tapWhere: string;
    tapIphone: string;
    tapAndroid: string;
    back: string;
  };
  reading: string;
  chooseMethod: string;
  /** The card's certificate must be renewed: expiring within three months, or expired (qualification only). */
  certificate: Record<"expiring" | "expired_in_grace", string>;
  face: string;
  pin: string;
  pinTitle: string;
  triesLeft: (n: number) => string;
  clear: string;
  /** Spoken by the PIN pad, by position only (never the digit): 「N桁目を入力しました」, 「N桁目を消しました」. */
  pinDigitEntered: (n: number) => string;
  pinDigitRemoved: (n: number) => string;
  /** Spoken when 訂正 clears the entry. */
  pinCleared: string;
  ok: string;
  cancel: string;
  faceTitle: string;
  faceSub: string;
  faceAttempt: (n: number, of: number) => string;
  /** What to change before the next try, by the daemon's reason; undefined for a reason the catalogue lacks. */
  faceGuidance: (reason: string) => string | undefined;
  staffTitle: string;
  staffSub: string;
  querying: string;
  agree: string;
  disagree: string;
  /** The answers of the 医療費助成 question (利用する / 利用しない). */
  use: string;
  notUse: string;
  consentTitle: Record<ConsentItem, string>;
  consentText: Record<ConsentItem, string>;
  result: Record<CheckInOutcome, { title: string; next: string }>;
  notice: Record<KioskNotice, { title: string; next: string }>;
  disconnected: string;
  /** The 🔊 button's label: say the screen again. */
  repeat: string;
}

/** Replaces each `{name}` of `template` with `values[name]`; an unknown placeholder stays as it is. */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

/** `key.one` or `key.other` by the language's plural rule for `n`, with `{n}` filled in. */
export function plural(lang: Lang, c: Catalogue, key: "triesLeft" | "countdown", n: number): string {
  const form = new Intl.PluralRules(lang).select(n) === "one" ? "one" : "other";
  return format(c[`${key}.${form}`], { n });
}

const CONSENT_ITEMS: ConsentItem[] = [
  "medical_and_medication",
  "surgery",
  "health_checkup",
  "medical_subsidy",
  "other",
];
const OUTCOMES: CheckInOutcome[] = ["valid", "invalid", "no_qualification", "pending_outage", "other"];
const NOTICES: KioskNotice[] = [
  "card_removed",
  "timeout",
  "not_my_number_card",
  "pin_locked",
  "wrong_pin",
  "face_only_card",
  "certificate_expired",
  "certificate_revoked",
  "phone_certificate_expired",
  "reader_error",
  "cancelled",
  "other",
];

function group<K extends string, V>(keys: K[], value: (k: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((k) => [k, value(k)])) as Record<K, V>;
}

function build(lang: Lang, c: Catalogue): Words {
  const get = (key: string): string => (c as Record<string, string>)[key] ?? key;
  return {
    languageName: c.languageName,
    chooseLanguage: c.chooseLanguage,
    layoutSeated: c.layoutSeated,
    highContrast: c.highContrast,
    countdown: (n) => plural(lang, c, "countdown", n),
    keepGoing: c.keepGoing,
    chooserTitle: c.chooserTitle,
    officialWording: c.officialWording,
    placeCard: c.placeCard,
    placeCardSub: c.placeCardSub,
    phone: {
      button: c["phone.button"],
      chooseTitle: c["phone.chooseTitle"],
      iphone: c["phone.iphone"],
      android: c["phone.android"],
      tapTitle: c["phone.tapTitle"],
      tapWhere: c["phone.tapWhere"],
      tapIphone: c["phone.tapIphone"],
      tapAndroid: c["phone.tapAndroid"],
      back: c["phone.back"],
    },
    reading: c.reading,
    chooseMethod: c.chooseMethod,
    certificate: {
      expiring: c["certificate.expiring"],
      expired_in_grace: c["certificate.expired_in_grace"],
    },
    face: c.face,
    pin: c.pin,
    pinTitle: c.pinTitle,
    triesLeft: (n) => plural(lang, c, "triesLeft", n),
    clear: c.clear,
    pinDigitEntered: (n) => format(c.pinDigitEntered, { n }),
    pinDigitRemoved: (n) => format(c.pinDigitRemoved, { n }),
    pinCleared: c.pinCleared,
    ok: c.ok,
    cancel: c.cancel,
    faceTitle: c.faceTitle,
    faceSub: c.faceSub,
    faceAttempt: (n, of) => format(c.faceAttempt, { n, of }),
    faceGuidance: (reason) => (c as Record<string, string>)[`faceGuidance.${reason}`],
    staffTitle: c.staffTitle,
    staffSub: c.staffSub,
    querying: c.querying,
    agree: c.agree,
    disagree: c.disagree,
    use: c.use,
    notUse: c.notUse,
    consentTitle: group(CONSENT_ITEMS, (i) => get(`consentTitle.${i}`)),
    consentText: group(CONSENT_ITEMS, (i) => get(`consentText.${i}`)),
    result: group(OUTCOMES, (o) => ({ title: get(`result.${o}.title`), next: get(`result.${o}.next`) })),
    notice: group(NOTICES, (n) => ({ title: get(`notice.${n}.title`), next: get(`notice.${n}.next`) })),
    disconnected: c.disconnected,
    repeat: c.repeat,
  };
}

export const words = Object.fromEntries(LANGS.map((l) => [l, build(l, catalogues[l])])) as Record<Lang, Words>;
