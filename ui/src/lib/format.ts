// Words and formats the screens share: outcome and method labels, dates, ages.

import type {
  AuthMethod,
  CheckInOutcome,
  ConsentItem,
  FallbackPath,
  KioskNotice,
  RecheckRunView,
  Sex,
  UnconfirmedReason,
  UnconfirmedView,
} from "./types";

export const outcomeLabel: Record<CheckInOutcome, string> = {
  valid: "有効",
  invalid: "無効",
  no_qualification: "該当資格なし",
  pending_outage: "未確認 (通信障害)",
  other: "その他",
};

/** How a check-in was made, in words. */
export const methodLabel: Record<AuthMethod, string> = {
  face: "★ 顔認証",
  pin: "★ 暗証番号",
  staff_visual: "目 目視確認",
  insurance_numbers: "◎ 保険証",
  phone: "★ スマホ (iPhone)",
  smartphone_pin: "★ スマホ暗証番号",
};

/**
 * The 区分 mark of the receipt computer's オンライン資格確認結果一覧 (ORCA P031): ★ a check-in at the card
 * reader with the My Number Card, ◎ a check by the numbers of an insurance card; 目視確認 has its own mark.
 */
export const methodMark: Record<AuthMethod, string> = {
  face: "★",
  pin: "★",
  staff_visual: "目",
  insurance_numbers: "◎",
  phone: "★",
  smartphone_pin: "★",
};

/** 資格有効性 as short as the list prints it (無効（新しい資格あり） → 無効（新）); other codes as the table has them. */
export function validityShort(code: string, label: string): string {
  return code === "3" ? "無効（新）" : label;
}

export const consentShort: Record<ConsentItem, string> = {
  medical_and_medication: "診療・薬剤",
  surgery: "手術",
  health_checkup: "健診",
  medical_subsidy: "医療費助成",
  other: "その他",
};

export const sexLabel: Record<Sex, string> = { male: "男", female: "女" };

export const noticeLabel: Record<KioskNotice, string> = {
  card_removed: "カードが取り外されました",
  timeout: "時間切れ",
  not_my_number_card: "マイナンバーカードではありません",
  pin_locked: "暗証番号ロック",
  wrong_pin: "暗証番号の誤り",
  face_only_card: "顔認証マイナンバーカード (暗証番号なし)",
  certificate_expired: "電子証明書の有効期限切れ",
  certificate_revoked: "電子証明書が失効しています",
  phone_certificate_expired: "スマホ用電子証明書の有効期限切れ",
  reader_error: "カードリーダーの異常",
  cancelled: "中止",
  other: "その他",
};

/** `2026-11-30T09:05:12+09:00` → `09:05`. */
export function timeOfDay(rfc3339: string): string {
  const m = /T(\d{2}):(\d{2})/.exec(rfc3339);
  return m ? `${m[1]}:${m[2]}` : rfc3339;
}

/** `YYYY-MM-DD` or `YYYYMMDD` → `YYYY/MM/DD`. */
export function ymd(date: string | undefined): string {
  if (!date) return "";
  const digits = date.replace(/\D/g, "");
  if (digits.length !== 8) return date;
  return `${digits.slice(0, 4)}/${digits.slice(4, 6)}/${digits.slice(6, 8)}`;
}

/** `YYYYMM` → `YYYY年M月` (診療年月). */
export function yearMonth(month: string | undefined): string {
  if (!month) return "";
  const digits = month.replace(/\D/g, "");
  if (digits.length !== 6) return month;
  return `${digits.slice(0, 4)}年${Number(digits.slice(4, 6))}月`;
}

/** `3000` → `3,000円`; anything that is not a number is shown as sent. */
export function yen(amount: string | undefined): string {
  if (amount === undefined || amount === "") return "";
  const n = Number(amount);
  return Number.isFinite(n) ? `${n.toLocaleString("ja-JP")}円` : amount;
}

/** What reception does when a 医療扶助 patient's ticket of the month is not registered (「未委託」). */
export const unregisteredTicketSteps: string[] = [
  "「未委託」は、福祉事務所がこの月の医療券・調剤券をまだ登録していないという意味です（登録は毎月20日ごろ）。資格は有効です。",
  "紙の医療券・調剤券をお持ちか患者さんに確認し、あればそれで受け付けてください。",
  "なければ福祉事務所（地区担当員）に医療券・調剤券の発行を依頼し、登録後に資格確認（一括照会を含む）をやり直してください。",
];

/** `YYYYMMDD…` or `YYYY-MM-DD…` → `2026年12月3日` (作成日 on a printed form). */
export function longDate(date: string): string {
  const digits = date.replace(/\D/g, "");
  if (digits.length < 8) return date;
  return `${Number(digits.slice(0, 4))}年${Number(digits.slice(4, 6))}月${Number(digits.slice(6, 8))}日`;
}

/** Full years on `today` of someone born on `birth` (`YYYY-MM-DD` or `YYYYMMDD`). */
export function age(birth: string, today: Date = new Date()): number | undefined {
  const d = birth.replace(/\D/g, "");
  if (d.length !== 8) return undefined;
  const y = Number(d.slice(0, 4));
  const m = Number(d.slice(4, 6));
  const day = Number(d.slice(6, 8));
  let years = today.getFullYear() - y;
  if (today.getMonth() + 1 < m || (today.getMonth() + 1 === m && today.getDate() < day)) years -= 1;
  return years;
}

/** What reception does when a result is not 有効 (see docs/app.md; 保発0710第1号). */
export const fallbackSteps: Record<"invalid" | "no_qualification" | "not_found", string[]> = {
  invalid: [
    "患者さんにマイナポータルの「資格情報」画面、または「資格情報のお知らせ」とマイナンバーカードを見せてもらい、資格を確認します。",
    "再診で過去の記録と一致する場合は、口頭で確認して通常の負担割合 (1〜3割) で受け付けます。",
    "初診で確認できない場合は「被保険者資格申立書」に記入してもらい、通常の負担割合で受け付けます。",
    "電子証明書の期限切れの場合、期限の月末から3ヵ月は資格確認のみ可能です。その後は資格確認書が必要です。",
  ],
  no_qualification: [
    "転職・資格取得届の遅れなどで新しい資格がまだ登録されていないことがあります (該当資格なし)。",
    "マイナポータルの「資格情報」画面、または「資格情報のお知らせ」とカードで確認します。",
    "確認できない場合は「被保険者資格申立書」に記入してもらい、通常の負担割合で受け付けます。レセプトの保険者番号等が不詳の場合は全桁を「7」で記載し、摘要欄に申立書の住所・連絡先を記載します。",
  ],
  not_found: [
    "入力した保険者番号・記号・番号・枝番・生年月日をもう一度確認してください。",
    "それでも見つからない場合は、資格確認書または資格情報のお知らせの提示をお願いし、「被保険者資格申立書」の手順に進みます。",
  ],
};

/** The paths of 保発0710第1号 as reception reads them (the daemon's `FallbackPath::label` in the CSV). */
export const fallbackPathLabel: Record<FallbackPath, string> = {
  numbers: "資格確認書等の番号",
  mynaportal: "マイナポータルの資格情報画面",
  declaration: "被保険者資格申立書",
  last_known: "前回の資格（再来）",
};

export const unconfirmedReasonLabel: Record<UnconfirmedReason, string> = {
  invalid: "資格無効",
  no_qualification: "該当資格なし",
  outage: "通信障害",
  reader_fault: "機器の故障",
  not_found: "番号で該当なし",
};

export const unconfirmedStateLabel: Record<UnconfirmedView["state"], string> = {
  open: "要再確認",
  confirmed: "確認済（再確認で有効）",
  closed: "対応済",
};

export const recheckKindLabel: Record<RecheckRunView["kind"], string> = {
  daily: "定時",
  before_receipt: "レセプト前",
  manual: "手動",
};
