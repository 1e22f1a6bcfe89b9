// The kiosk's words, Japanese first, with furigana (<ruby>) on the key words, and English.
// The consent wording is the official one (資格確認端末における診療情報の利用設定手順書, 2025-01).

import type { CheckInOutcome, ConsentItem, KioskNotice } from "../lib/types";

export type Lang = "ja" | "en";

/** Markup with ruby is trusted text from this file only; nothing from the daemon goes through it. */
export interface Words {
  placeCard: string;
  placeCardSub: string;
  reading: string;
  chooseMethod: string;
  /** The card's certificate must be renewed: expiring within three months, or expired (qualification only). */
  certificate: Record<"expiring" | "expired_in_grace", string>;
  face: string;
  pin: string;
  pinTitle: string;
  triesLeft: (n: number) => string;
  clear: string;
  ok: string;
  cancel: string;
  faceTitle: string;
  faceSub: string;
  faceAttempt: (n: number, of: number) => string;
  /** What to change before the next try, by the daemon's reason (English; Japanese comes from the daemon). */
  faceGuidance?: Record<string, string>;
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
  switchTo: string;
  disconnected: string;
}

const ja: Words = {
  placeCard: "マイナンバーカードを<ruby>置<rt>お</rt></ruby>いてください",
  placeCardSub: "カードリーダーの<ruby>上<rt>うえ</rt></ruby>に、<ruby>顔写真<rt>かおじゃしん</rt></ruby>のある<ruby>面<rt>めん</rt></ruby>を<ruby>上<rt>うえ</rt></ruby>にして<ruby>置<rt>お</rt></ruby>いてください。",
  reading: "カードを<ruby>読<rt>よ</rt></ruby>み<ruby>取<rt>と</rt></ruby>っています",
  chooseMethod: "<ruby>本人確認<rt>ほんにんかくにん</rt></ruby>の<ruby>方法<rt>ほうほう</rt></ruby>を<ruby>選<rt>えら</rt></ruby>んでください",
  certificate: {
    expiring:
      "カードの<ruby>電子証明書<rt>でんししょうめいしょ</rt></ruby>は3か<ruby>月<rt>げつ</rt></ruby><ruby>以内<rt>いない</rt></ruby>に<ruby>有効期限<rt>ゆうこうきげん</rt></ruby>が<ruby>切<rt>き</rt></ruby>れます。お<ruby>住<rt>す</rt></ruby>まいの<ruby>市区町村<rt>しくちょうそん</rt></ruby>で<ruby>更新<rt>こうしん</rt></ruby>してください。",
    expired_in_grace:
      "カードの<ruby>電子証明書<rt>でんししょうめいしょ</rt></ruby>の<ruby>有効期限<rt>ゆうこうきげん</rt></ruby>が<ruby>切<rt>き</rt></ruby>れています。<ruby>今日<rt>きょう</rt></ruby>は<ruby>資格<rt>しかく</rt></ruby>の<ruby>確認<rt>かくにん</rt></ruby>のみ<ruby>行<rt>おこな</rt></ruby>います（お<ruby>薬<rt>くすり</rt></ruby>や<ruby>診療<rt>しんりょう</rt></ruby>の<ruby>情報<rt>じょうほう</rt></ruby>は<ruby>提供<rt>ていきょう</rt></ruby>されません）。<ruby>市区町村<rt>しくちょうそん</rt></ruby>で<ruby>更新<rt>こうしん</rt></ruby>してください。",
  },
  face: "<ruby>顔認証<rt>かおにんしょう</rt></ruby>",
  pin: "<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby>",
  pinTitle: "<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby> (4<ruby>桁<rt>けた</rt></ruby>) を<ruby>入力<rt>にゅうりょく</rt></ruby>してください",
  triesLeft: (n) => `あと ${n} <ruby>回<rt>かい</rt></ruby><ruby>間違<rt>まちが</rt></ruby>えるとロックされます`,
  clear: "<ruby>訂正<rt>ていせい</rt></ruby>",
  ok: "<ruby>確定<rt>かくてい</rt></ruby>",
  cancel: "<ruby>中止<rt>ちゅうし</rt></ruby>",
  faceTitle: "カメラを<ruby>見<rt>み</rt></ruby>てください",
  faceSub: "マスクや<ruby>帽子<rt>ぼうし</rt></ruby>を<ruby>外<rt>はず</rt></ruby>して、<ruby>画面<rt>がめん</rt></ruby>の<ruby>正面<rt>しょうめん</rt></ruby>に<ruby>立<rt>た</rt></ruby>ってください。",
  faceAttempt: (n, of) => `${n} / ${of} <ruby>回目<rt>かいめ</rt></ruby>`,
  staffTitle: "<ruby>職員<rt>しょくいん</rt></ruby>が<ruby>確認<rt>かくにん</rt></ruby>します",
  staffSub: "そのままお<ruby>待<rt>ま</rt></ruby>ちください。",
  querying: "<ruby>資格<rt>しかく</rt></ruby>を<ruby>確認<rt>かくにん</rt></ruby>しています",
  agree: "<ruby>同意<rt>どうい</rt></ruby>する",
  disagree: "<ruby>同意<rt>どうい</rt></ruby>しない",
  use: "<ruby>利用<rt>りよう</rt></ruby>する",
  notUse: "<ruby>利用<rt>りよう</rt></ruby>しない",
  consentTitle: {
    medical_and_medication: "【<ruby>診療<rt>しんりょう</rt></ruby>/<ruby>薬剤<rt>やくざい</rt></ruby><ruby>情報<rt>じょうほう</rt></ruby>】",
    surgery: "【<ruby>手術<rt>しゅじゅつ</rt></ruby><ruby>情報<rt>じょうほう</rt></ruby>】",
    health_checkup: "【<ruby>特定健診<rt>とくていけんしん</rt></ruby>等<ruby>情報<rt>じょうほう</rt></ruby>】",
    medical_subsidy: "【<ruby>医療費助成<rt>いりょうひじょせい</rt></ruby>】",
    other: "【<ruby>情報<rt>じょうほう</rt></ruby>の<ruby>提供<rt>ていきょう</rt></ruby>】",
  },
  consentText: {
    medical_and_medication:
      "<ruby>過去<rt>かこ</rt></ruby>の<ruby>手術<rt>しゅじゅつ</rt></ruby><ruby>情報<rt>じょうほう</rt></ruby><ruby>以外<rt>いがい</rt></ruby>の<ruby>診療<rt>しんりょう</rt></ruby>・お<ruby>薬<rt>くすり</rt></ruby><ruby>情報<rt>じょうほう</rt></ruby>を<ruby>当機関<rt>とうきかん</rt></ruby>に<ruby>提供<rt>ていきょう</rt></ruby>することに<ruby>同意<rt>どうい</rt></ruby>しますか。<br>この<ruby>情報<rt>じょうほう</rt></ruby>はあなたの<ruby>診察<rt>しんさつ</rt></ruby>や<ruby>健康管理<rt>けんこうかんり</rt></ruby>のために<ruby>使用<rt>しよう</rt></ruby>します。",
    surgery:
      "<ruby>過去<rt>かこ</rt></ruby>の<ruby>手術<rt>しゅじゅつ</rt></ruby><ruby>情報<rt>じょうほう</rt></ruby>を<ruby>当機関<rt>とうきかん</rt></ruby>に<ruby>提供<rt>ていきょう</rt></ruby>することに<ruby>同意<rt>どうい</rt></ruby>しますか。<br>この<ruby>情報<rt>じょうほう</rt></ruby>はあなたの<ruby>診察<rt>しんさつ</rt></ruby>や<ruby>健康管理<rt>けんこうかんり</rt></ruby>のために<ruby>使用<rt>しよう</rt></ruby>します。",
    health_checkup:
      "<ruby>過去<rt>かこ</rt></ruby>の<ruby>特定健診<rt>とくていけんしん</rt></ruby>等の<ruby>情報<rt>じょうほう</rt></ruby>を<ruby>当機関<rt>とうきかん</rt></ruby>に<ruby>提供<rt>ていきょう</rt></ruby>することに<ruby>同意<rt>どうい</rt></ruby>しますか。<br>この<ruby>情報<rt>じょうほう</rt></ruby>はあなたの<ruby>診察<rt>しんさつ</rt></ruby>や<ruby>健康管理<rt>けんこうかんり</rt></ruby>のために<ruby>使用<rt>しよう</rt></ruby>します。",
    medical_subsidy:
      "<ruby>医療費助成<rt>いりょうひじょせい</rt></ruby>の<ruby>各種<rt>かくしゅ</rt></ruby><ruby>受給者証<rt>じゅきゅうしゃしょう</rt></ruby>を<ruby>利用<rt>りよう</rt></ruby>しますか。<br><ruby>利用<rt>りよう</rt></ruby>すると、<ruby>受給者証<rt>じゅきゅうしゃしょう</rt></ruby>の<ruby>情報<rt>じょうほう</rt></ruby>が<ruby>受付<rt>うけつけ</rt></ruby>に<ruby>届<rt>とど</rt></ruby>きます。",
    other: "<ruby>情報<rt>じょうほう</rt></ruby>を<ruby>当機関<rt>とうきかん</rt></ruby>に<ruby>提供<rt>ていきょう</rt></ruby>することに<ruby>同意<rt>どうい</rt></ruby>しますか。",
  },
  result: {
    valid: {
      title: "<ruby>受付<rt>うけつけ</rt></ruby>が<ruby>完了<rt>かんりょう</rt></ruby>しました",
      next: "カードをお<ruby>取<rt>と</rt></ruby>りください。お<ruby>呼<rt>よ</rt></ruby>びするまでお<ruby>待<rt>ま</rt></ruby>ちください。",
    },
    invalid: {
      title: "<ruby>資格<rt>しかく</rt></ruby>を<ruby>確認<rt>かくにん</rt></ruby>できませんでした",
      next: "カードをお<ruby>取<rt>と</rt></ruby>りになり、<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。",
    },
    no_qualification: {
      title: "<ruby>資格<rt>しかく</rt></ruby>を<ruby>確認<rt>かくにん</rt></ruby>できませんでした",
      next: "カードをお<ruby>取<rt>と</rt></ruby>りになり、<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。",
    },
    pending_outage: {
      title: "<ruby>受付<rt>うけつけ</rt></ruby>しました (<ruby>資格<rt>しかく</rt></ruby>は<ruby>後<rt>あと</rt></ruby>で<ruby>確認<rt>かくにん</rt></ruby>します)",
      next: "<ruby>通信障害<rt>つうしんしょうがい</rt></ruby>のため、<ruby>資格<rt>しかく</rt></ruby>の<ruby>確認<rt>かくにん</rt></ruby>は<ruby>復旧後<rt>ふっきゅうご</rt></ruby>に<ruby>行<rt>おこな</rt></ruby>います。カードをお<ruby>取<rt>と</rt></ruby>りください。",
    },
    other: {
      title: "<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください",
      next: "カードをお<ruby>取<rt>と</rt></ruby>りください。",
    },
  },
  notice: {
    card_removed: { title: "カードが<ruby>取<rt>と</rt></ruby>り<ruby>外<rt>はず</rt></ruby>されました", next: "もう<ruby>一度<rt>いちど</rt></ruby>カードを<ruby>置<rt>お</rt></ruby>いてください。" },
    timeout: { title: "<ruby>時間<rt>じかん</rt></ruby>が<ruby>過<rt>す</rt></ruby>ぎました", next: "カードをお<ruby>取<rt>と</rt></ruby>りになり、もう<ruby>一度<rt>いちど</rt></ruby><ruby>置<rt>お</rt></ruby>いてください。" },
    not_my_number_card: { title: "マイナンバーカードではありません", next: "カードをお<ruby>取<rt>と</rt></ruby>りになり、<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。" },
    pin_locked: { title: "<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby>がロックされています", next: "<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。ロックの<ruby>解除<rt>かいじょ</rt></ruby>はお<ruby>住<rt>す</rt></ruby>まいの<ruby>市区町村<rt>しくちょうそん</rt></ruby>の<ruby>窓口<rt>まどぐち</rt></ruby>で<ruby>行<rt>おこな</rt></ruby>えます。" },
    wrong_pin: { title: "<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby>が<ruby>違<rt>ちが</rt></ruby>います", next: "<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。" },
    face_only_card: { title: "<ruby>顔認証<rt>かおにんしょう</rt></ruby>マイナンバーカードです", next: "<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby>はありません。<ruby>顔認証<rt>かおにんしょう</rt></ruby>または<ruby>職員<rt>しょくいん</rt></ruby>による<ruby>確認<rt>かくにん</rt></ruby>になります。<ruby>受付<rt>うけつけ</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。" },
    certificate_expired: { title: "<ruby>電子証明書<rt>でんししょうめいしょ</rt></ruby>の<ruby>有効期限<rt>ゆうこうきげん</rt></ruby>が<ruby>切<rt>き</rt></ruby>れています", next: "お<ruby>住<rt>す</rt></ruby>まいの<ruby>市区町村<rt>しくちょうそん</rt></ruby>で<ruby>更新<rt>こうしん</rt></ruby>してください。<ruby>今日<rt>きょう</rt></ruby>は<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。" },
    certificate_revoked: { title: "このカードの<ruby>電子証明書<rt>でんししょうめいしょ</rt></ruby>は<ruby>使<rt>つか</rt></ruby>えません", next: "<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。" },
    reader_error: { title: "カードを<ruby>読<rt>よ</rt></ruby>み<ruby>取<rt>と</rt></ruby>れませんでした", next: "カードを<ruby>置<rt>お</rt></ruby>き<ruby>直<rt>なお</rt></ruby>してください。<ruby>続<rt>つづ</rt></ruby>く<ruby>場合<rt>ばあい</rt></ruby>は<ruby>受付<rt>うけつけ</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。" },
    cancelled: { title: "<ruby>中止<rt>ちゅうし</rt></ruby>しました", next: "カードをお<ruby>取<rt>と</rt></ruby>りください。" },
    other: { title: "<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください", next: "カードをお<ruby>取<rt>と</rt></ruby>りください。" },
  },
  switchTo: "English",
  disconnected: "ただいま<ruby>準備中<rt>じゅんびちゅう</rt></ruby>です。<ruby>受付<rt>うけつけ</rt></ruby><ruby>窓口<rt>まどぐち</rt></ruby>にお<ruby>声<rt>こえ</rt></ruby>がけください。",
};

const en: Words = {
  placeCard: "Please place your My Number Card",
  placeCardSub: "Put the card on the reader, photo side up.",
  reading: "Reading your card",
  chooseMethod: "How would you like to confirm it is you?",
  certificate: {
    expiring:
      "The electronic certificate on your card expires within three months. Please renew it at your city office.",
    expired_in_grace:
      "The electronic certificate on your card has expired. Today only your insurance is confirmed (no medication or treatment information is shared). Please renew it at your city office.",
  },
  face: "Face recognition",
  pin: "PIN",
  pinTitle: "Enter your 4-digit PIN",
  triesLeft: (n) => `${n} more wrong ${n === 1 ? "try locks" : "tries lock"} the card`,
  clear: "Clear",
  ok: "OK",
  cancel: "Stop",
  faceTitle: "Please look at the camera",
  faceSub: "Take off your mask or hat and stand in front of the screen.",
  faceAttempt: (n, of) => `Try ${n} of ${of}`,
  faceGuidance: {
    no_face: "No face was seen. Please look straight at the camera.",
    several_faces: "More than one face is in view. Only the patient, please.",
    too_small: "Please come a little closer to the camera.",
    cut_off: "Your face is cut off. Please move to the middle of the screen.",
    too_dark: "It is too dark. Please face the light.",
    too_bright: "It is too bright. Please step out of the direct light.",
    backlit: "The light is behind you. Please turn a little.",
    blurred: "The picture is blurred. Please hold still.",
    not_matched: "It did not match yet. Take off glasses or mask and try again.",
    camera_error: "The camera is not working. Please speak to the reception desk.",
  },
  staffTitle: "A staff member will check",
  staffSub: "Please wait a moment.",
  querying: "Checking your insurance",
  agree: "I agree",
  disagree: "I do not agree",
  use: "Use them",
  notUse: "Do not use them",
  consentTitle: {
    medical_and_medication: "Treatment and medication information",
    surgery: "Surgery information",
    health_checkup: "Health checkup information",
    medical_subsidy: "Medical expense subsidies",
    other: "Sharing information",
  },
  consentText: {
    medical_and_medication:
      "Do you agree to share your past treatment and medication information (other than surgery) with this facility?<br>It is used for your care and health management.",
    surgery:
      "Do you agree to share your past surgery information with this facility?<br>It is used for your care and health management.",
    health_checkup:
      "Do you agree to share your past health checkup information with this facility?<br>It is used for your care and health management.",
    medical_subsidy:
      "Do you want to use your medical expense subsidy certificates (受給者証)?<br>If you do, reception receives their details.",
    other: "Do you agree to share this information with this facility?",
  },
  result: {
    valid: { title: "You are checked in", next: "Please take your card and wait to be called." },
    invalid: { title: "Your insurance could not be confirmed", next: "Please take your card and speak to the reception desk." },
    no_qualification: { title: "Your insurance could not be confirmed", next: "Please take your card and speak to the reception desk." },
    pending_outage: {
      title: "Checked in (insurance to be confirmed later)",
      next: "The national service cannot be reached; your insurance is confirmed when it is back. Please take your card.",
    },
    other: { title: "Please speak to the reception desk", next: "Please take your card." },
  },
  notice: {
    card_removed: { title: "The card was removed", next: "Please place the card again." },
    timeout: { title: "Time is up", next: "Please take the card and place it again." },
    not_my_number_card: { title: "This is not a My Number Card", next: "Please take the card and speak to the reception desk." },
    pin_locked: { title: "Your PIN is locked", next: "Please speak to the reception desk. Your city office can unlock it." },
    wrong_pin: { title: "The PIN is wrong", next: "Please speak to the reception desk." },
    face_only_card: { title: "This card has no PIN", next: "Face recognition or a check by staff is needed. Please speak to the reception desk." },
    certificate_expired: { title: "The card's certificate has expired", next: "Renew it at your city office. For today, please speak to the reception desk." },
    certificate_revoked: { title: "The card's certificate cannot be used", next: "Please speak to the reception desk." },
    reader_error: { title: "The card could not be read", next: "Please place the card again. If this goes on, speak to the reception desk." },
    cancelled: { title: "Stopped", next: "Please take your card." },
    other: { title: "Please speak to the reception desk", next: "Please take your card." },
  },
  switchTo: "日本語",
  disconnected: "This reader is not ready. Please speak to the reception desk.",
};

export const words: Record<Lang, Words> = { ja, en };
