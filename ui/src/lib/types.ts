// The daemon's messages as the UI sees them: a mirror of `terminal_ipc::message` (crates/terminal-ipc).
// Field names and tags are the wire's; keep the two in step.

export type AuthMethod = "face" | "pin" | "staff_visual" | "insurance_numbers" | "phone" | "smartphone_pin";
export type ConsentItem = "medical_and_medication" | "surgery" | "health_checkup" | "medical_subsidy" | "other";
export type CheckInOutcome = "valid" | "invalid" | "no_qualification" | "pending_outage" | "other";
export type Sex = "male" | "female";
export type Role = "staff" | "administrator" | "medical_information_viewer" | "master" | "master_reset";

/** One emergency view in the review list. */
export interface EmergencyReviewRow {
  audit_id: number;
  at: string;
  viewer: string;
  patient_ref: string;
  reason: string;
  method: string;
  items: string[];
  /** 救急時医療情報閲覧, or a lookup whose outcome was never recorded. */
  action: string;
  /** The terminal whose log holds the row (a facility-wide store); audit_id is that terminal's. */
  terminal?: string;
}

/** An account as the administration screen shows it (never a password). */
export interface AccountView {
  account: string;
  display_name: string;
  role: Role;
  emergency_permission: boolean;
  totp_enrolled: boolean;
  disabled: boolean;
  locked_until?: string;
  failed_attempts: number;
  must_change_password: boolean;
  last_login?: string;
}
export type MedicalInfoKind = "medication_and_treatment" | "surgery" | "health_checkup";

export type KioskNotice =
  | "card_removed"
  | "timeout"
  | "not_my_number_card"
  | "pin_locked"
  | "wrong_pin"
  | "face_only_card"
  | "certificate_expired"
  | "certificate_revoked"
  | "phone_certificate_expired"
  | "reader_error"
  | "cancelled"
  | "other";

export type KioskScreen =
  | { screen: "idle" }
  | { screen: "card_present" }
  | { screen: "method_choice"; methods: AuthMethod[]; certificate?: "expiring" | "expired_in_grace" }
  | { screen: "pin_entry"; tries_left: number }
  | { screen: "face_capture"; attempt: number; attempts: number; guidance?: { reason: string; message: string } }
  | { screen: "staff_visual_check" }
  | { screen: "consent"; item: ConsentItem }
  | { screen: "querying" }
  | { screen: "result"; check_in_id: string; outcome: CheckInOutcome }
  | { screen: "notice"; notice: KioskNotice };

/** The facility's display for a new patient (`[kiosk] default_layout`, `default_high_contrast`, `voice`,
 * `voice_volume`). */
export interface KioskDisplay {
  layout: "standard" | "seated";
  high_contrast: boolean;
  /** Spoken guidance (absent from an older daemon: on at 0.8). */
  voice?: { on: boolean; volume: number };
}

export interface PatientView {
  name: string;
  kana: string;
  sex: Sex;
  birth_date: string;
  insurer_number: string;
  symbol: string;
  number: string;
  branch: string;
  valid_until?: string;
  insurer_name?: string;
  /** The name typed at reception because the central service showed ● for 外字. */
  local_name?: string;
  /** The name holds 〓 or ●: reception should type the local name (外字). */
  name_needs_local?: boolean;
  limit_certificate?: boolean;
  specific_disease?: boolean;
  /** 郵便番号 (`123-4567`). */
  postal_code?: string;
  address?: string;
  /** 資格喪失年月日 (`yyyyMMdd`) when the qualification ended. */
  disqualified_on?: string;
  /** 生年月日, 有効期限 and 資格喪失年月日 in 和暦 as the receipt computer prints them ("H 2. 1. 5"), from the daemon. */
  birth_date_wareki?: string;
  valid_until_wareki?: string;
  disqualified_on_wareki?: string;
  /** 医療扶助 (生活保護): the A1 qualification and its tickets. */
  medical_aid?: MedicalAidView;
  /** DV・虐待 restriction: the address was removed; never tell anyone where the patient is. */
  restricted?: boolean;
  /** 医療費助成の受給者証 (公費, PMH) the patient chose to use (利用する). */
  subsidies?: SubsidyView[];
}

/** One 医療費助成 受給者証 (公費, PMH). */
export interface SubsidyView {
  /** 公費負担者番号. */
  public_expense_number: string;
  /** 受給者番号. */
  beneficiary_number: string;
  /** 制度名. */
  name?: string;
  /** 自己負担上限額 per month (yen). */
  self_pay_limit?: string;
  valid_to?: string;
}

/** 医療扶助 (生活保護) of a patient. */
export interface MedicalAidView {
  /** 公費負担者番号. */
  public_expense_number: string;
  /** 受給者番号. */
  beneficiary_number: string;
  welfare_office?: string;
  /** 保護開始日 (`yyyyMMdd`). */
  since?: string;
  tickets: MedicalTicketView[];
  /** No ticket registered by the welfare office: 「未委託」. */
  unregistered: boolean;
}

/** One 医療券 or 調剤券. */
export interface MedicalTicketView {
  /** 医療券, 調剤券, or the code as sent. */
  kind: string;
  issue_number?: string;
  /** 診療年月 (`yyyyMM`). */
  treatment_month?: string;
  valid_from?: string;
  valid_to?: string;
  designated_institution?: string;
  injuries: string[];
  /** 本人支払額 (yen). */
  self_pay?: string;
  district_contact?: string;
  /** 単独 / 併用. */
  use_with_insurance?: string;
}

/** 資格有効性 (OQSCD006) as the code table writes it. */
export interface Validity {
  code: string;
  label: string;
}

/** The My Number Card's electronic certificate at a card check-in. */
export type CertificateState = "valid" | "expiring" | "expired_in_grace";

export interface CheckInRecord {
  check_in_id: string;
  at: string;
  reader: string;
  method: AuthMethod;
  outcome: CheckInOutcome;
  patient?: PatientView;
  consents: ConsentItem[];
  validity?: Validity;
  certificate?: CertificateState;
  /** 受診区分 (外来 unless reception changed it). */
  visit: Visit;
  /** When the card's certificate expires (YYYY-MM-DD), as the kiosk read it from the card. */
  certificate_expires_on?: string;
  /** In the grace: the last day the card confirms qualification (YYYY-MM-DD). */
  certificate_grace_until?: string;
}

export type Visit = "outpatient" | "home_visit" | "online";

export interface UsageView {
  months: { month: string; card: number; numbers: number; rate_percent?: number }[];
  by_hour: number[];
  failures: { outcome: CheckInOutcome; count: number }[];
  thresholds: { tier: string; from: string; to: string; percent: number }[];
}

export type CentralLink =
  | { state: "up" }
  | { state: "down"; since: string; reason: string }
  | { state: "unknown" };

export interface OutboxCounts {
  received: number;
  sending: number;
  answered: number;
  failed: number;
}

export interface ReaderStatus {
  name: string;
  card_present: boolean;
  kiosk: KioskScreen;
  display?: KioskDisplay;
  /** Seconds left before the inactivity time-out, while the daemon counts down. */
  countdown?: number;
}

export interface StatusReport {
  daemon_version: string;
  protocol: number;
  readers: ReaderStatus[];
  central: CentralLink;
  outbox: OutboxCounts;
  uptime_secs: number;
  started_at?: string;
  last_central_contact?: string;
  /** The facility-wide store (院内サーバ); absent on a terminal with only its own store. */
  shared_store?: SharedStoreLink;
  /** A 閲覧用端末 (viewer) has no reader and no folders; the daemon refuses reception requests on it. */
  role?: TerminalRole;
}

export type TerminalRole = "reception" | "viewer";

/** The link to the facility-wide store (PostgreSQL). */
export interface SharedStoreLink {
  /** False: the lists show this terminal's records only. */
  reachable: boolean;
  /** This terminal's changes not yet in the facility-wide store. */
  pending: number;
}

export type ReaderChange = "attached" | "detached" | "card_inserted" | "card_removed";

export type DaemonEvent =
  | { event: "reader"; reader: string; change: ReaderChange }
  | { event: "kiosk"; reader: string; screen: KioskScreen; display?: KioskDisplay; countdown?: number }
  | { event: "check_in"; check_in: CheckInRecord }
  | { event: "outbox"; counts: OutboxCounts }
  | { event: "central_link"; link: CentralLink }
  | { event: "shared_store"; link: SharedStoreLink }
  | { event: "lagged"; missed: number };

export interface InsuranceNumbers {
  insurer_number: string;
  symbol: string;
  number: string;
  branch: string;
  birth_date: string;
}

export type KioskAction =
  | { action: "choose_method"; method: AuthMethod }
  | { action: "enter_pin"; pin: string }
  | { action: "answer_consent"; item: ConsentItem; agreed: boolean }
  | { action: "cancel" }
  | { action: "continue" }
  | { action: "start_staff_visual_check"; session: string }
  | { action: "confirm_staff_visual_check"; session: string; same_person: boolean };

/** One result of a check by the numbers on an insurance card (manual or from a CSV row). */
export interface EligibilityView {
  outcome: CheckInOutcome;
  patient?: PatientView;
  /** Central's error code and message when the person could not be checked (not found …). */
  error_code?: string;
  error_message?: string;
  checked_at: string;
}

export interface ConsentedPatient {
  patient_ref: string;
  name: string;
  kana: string;
  sex: Sex;
  birth_date: string;
  insurer_number: string;
  consented_at: string;
  expires_at: string;
  medical: boolean;
  surgery: boolean;
  checkup: boolean;
  symbol: string;
  number: string;
  branch: string;
  insurer_name?: string;
  /** 生年月日 in 和暦 (昭和25年1月2日) and as the forms print it (1962年5月21日), from the daemon's formatter. */
  birth_date_wareki: string;
  birth_date_long: string;
  age?: number;
}

export interface MedicalLine {
  date: string;
  facility: string;
  code: string;
  name: string;
  detail?: string;
  quantity?: string;
  /** 診療, 処方, 調剤, 手術 or 透析. */
  kind: string;
  /** 入外等: 入院 / 外来 (診療), 処方区分 院内 / 院外 (処方・調剤). */
  in_out?: string;
  /** 使用区分 of a drug: 内服 / 屯服 / 外用. */
  usage_class?: string;
  /** 成分名, ＜1回用量＞ (e.g. "1回1錠") and 用法等の特別指示 of a drug; `detail` is its 【用法】. */
  ingredient?: string;
  dose?: string;
  special_instruction?: string;
  /** 22年7月 and 19日, from the daemon's date formatter. */
  month_label: string;
  day_label: string;
}

export interface CheckupValue {
  item: string;
  value: string;
  unit: string;
  /** "high" ▲ / "low" ▽ against the 受診勧奨判定値, or undefined when inside it. */
  flag?: "high" | "low";
  /** The 受診勧奨判定値 as the official form prints it, e.g. "▲140以上". */
  range?: string;
  /** JLAC10 項目コード. */
  code: string;
  /** The official form's group (基本項目, 血圧 … or 所見), its line and its wording; absent off the form. */
  group?: string;
  row?: number;
  label?: string;
}

export interface MedicalInfoView {
  info: MedicalInfoKind;
  from: string;
  to: string;
  lines: MedicalLine[];
  checkups: { date: string; facility: string; values: CheckupValue[] }[];
  /** 作成日 (2023年3月27日) and the last month shown (2023年2月). */
  created_on: string;
  through_month: string;
  /** The official 特定健康診査受診結果 lines, in order (health_checkup only). */
  checkup_form?: { group: string; label: string; range: string }[];
}

export interface AccountSession {
  session: string;
  role: Role;
  emergency_permission: boolean;
  two_factor: boolean;
  display_name: string;
  idle_timeout_secs: number;
  must_change_password?: boolean;
}

export interface SummaryItem {
  date: string;
  facility: string;
  code: string;
  name: string;
  detail?: string;
}

export interface MedicalView {
  mode: "emergency" | "disaster";
  notice: string;
  viewer: string;
  accessed_at: string;
  method: string;
  items: string[];
  patient: {
    name: string;
    kana: string;
    sex: Sex;
    birth_date: string;
    insurer_number: string;
    insurer_name: string;
    symbol: string;
    number: string;
    branch: string;
    qualification_validity: string;
  };
  summary: {
    visits: SummaryItem[];
    medications: SummaryItem[];
    treatments: SummaryItem[];
    surgeries: SummaryItem[];
    dialysis: SummaryItem[];
    e_prescriptions: SummaryItem[];
    checkup_dates: string[];
  };
  /** The facility's order and period, as the daemon applied them. */
  summary_order?: SummaryOrder;
  summary_months?: number;
}

export type PatientLookup =
  | { by: "card"; reader: string }
  | { by: "four_facts"; name: string; birth_date: string; sex: Sex; insurer_or_address: string }
  | { by: "insurance_numbers"; numbers: InsuranceNumbers };

export type Request =
  | { kind: "status" }
  | { kind: "kiosk"; reader?: string; action: KioskAction }
  | { kind: "today_check_ins" }
  | { kind: "check_ins_of_day"; date?: string }
  | { kind: "usage"; months: number }
  | { kind: "check_in_detail"; check_in_id: string }
  | { kind: "set_local_name"; check_in_id: string; name: string }
  | { kind: "set_visit"; check_in_id: string; visit: Visit }
  | {
      kind: "open_unconfirmed";
      check_in_id?: string;
      reason: UnconfirmedReason;
      path: FallbackPath;
      share?: number;
      claim: ClaimedNumbers;
    }
  | { kind: "unconfirmed_list"; days?: number }
  | { kind: "recheck_unconfirmed" }
  | { kind: "close_unconfirmed"; session: string; id: number; resolution: string }
  | { kind: "export_unconfirmed"; days?: number }
  | { kind: "manual_check"; numbers: InsuranceNumbers; session?: string; ahead?: boolean }
  | { kind: "outbox_summary" }
  | { kind: "consented_patients"; session: string }
  | { kind: "medical_info"; session: string; patient_ref: string; info: MedicalInfoKind; from: string; to: string }
  | { kind: "login"; account: string; password: string; totp?: string }
  | { kind: "logout"; session: string }
  | { kind: "emergency_lookup"; session: string; reason: string; patient: PatientLookup }
  | { kind: "environment_settings"; session: string }
  | { kind: "change_password"; session: string; current: string; new_password: string }
  | { kind: "list_accounts"; session: string }
  | { kind: "create_account"; session: string; account: string; display_name: string; role: Role; password: string }
  | { kind: "set_emergency_permission"; session: string; account: string; granted: boolean }
  | { kind: "set_account_role"; session: string; account: string; role: Role }
  | { kind: "set_account_disabled"; session: string; account: string; disabled: boolean }
  | { kind: "unlock_account"; session: string; account: string }
  | { kind: "reset_password"; session: string; account: string; password: string }
  | { kind: "reset_totp"; session: string; account: string }
  | { kind: "begin_totp_enrolment"; session: string }
  | { kind: "confirm_totp_enrolment"; session: string; code: string }
  | { kind: "emergency_review"; session: string; from: string; to: string; export: boolean }
  | { kind: "disaster_status" }
  | {
      kind: "disaster_lookup";
      session: string;
      consent: "oral" | "unobtainable";
      reason?: string;
      patient: PatientLookup;
    }
  | { kind: "set_environment_settings"; session: string; credential: string; settings: Record<string, unknown> }
  | { kind: "facility_options"; session: string }
  | { kind: "change_setting"; session: string; key: string; value: string };

/** How the emergency summary lists its items. */
export type SummaryOrder = "newest_first" | "oldest_first";

/** The facility's own emergency-viewing settings (an administrator changes them; the daemon applies them). */
export interface FacilityOptions {
  emergency_terminals: string[];
  summary_order: SummaryOrder;
  summary_months: number;
  this_terminal: string;
}

export type Response =
  | ({ kind: "status" } & StatusReport)
  | { kind: "accepted" }
  | { kind: "check_ins"; check_ins: CheckInRecord[] }
  | { kind: "check_in"; check_in: CheckInRecord }
  | { kind: "day_check_ins"; date: string; today: boolean; check_ins: CheckInRecord[] }
  | { kind: "usage"; usage: UsageView }
  | { kind: "eligibility"; result: EligibilityView }
  | { kind: "consented_patients"; patients: ConsentedPatient[] }
  | { kind: "medical_info"; view: MedicalInfoView }
  | ({ kind: "logged_in" } & AccountSession)
  | { kind: "logged_out" }
  | ({ kind: "medical_view" } & MedicalView)
  | { kind: "accounts"; accounts: AccountView[] }
  | { kind: "account"; account: AccountView }
  | { kind: "totp_enrolment"; secret_base32: string; otpauth_uri: string; qr_svg: string }
  | { kind: "emergency_review"; rows: EmergencyReviewRow[]; files: string[]; notice?: string }
  | { kind: "disaster_status"; open: boolean; prefecture: number; windows: { from: string; to: string }[] }
  | { kind: "environment_settings"; facility_code: string; facility_name: string; settings: Record<string, unknown> }
  | ({ kind: "facility_options" } & FacilityOptions)
  | { kind: "unconfirmed"; entry: UnconfirmedView }
  | { kind: "unconfirmed_list"; entries: UnconfirmedView[]; last_run?: RecheckRunView }
  | { kind: "recheck_run"; run: RecheckRunView }
  | { kind: "export"; file_name: string; text: string };

/** Why a visit could not be confirmed (要再確認). */
export type UnconfirmedReason = "invalid" | "no_qualification" | "outage" | "reader_fault" | "not_found";
/** The paths of 保発0710第1号. */
export type FallbackPath = "numbers" | "mynaportal" | "declaration" | "last_known";

/** What the patient claimed; empty when unknown (不詳). Birth date YYYY-MM-DD. */
export interface ClaimedNumbers {
  insurer_number: string;
  symbol: string;
  number: string;
  branch: string;
  birth_date: string;
  insurer_name: string;
  name: string;
}

export interface UnconfirmedView {
  id: number;
  opened_at: string;
  opened_by: string;
  check_in_id?: string;
  reason: UnconfirmedReason;
  path: FallbackPath;
  share?: number;
  name: string;
  kana: string;
  claim: ClaimedNumbers;
  state: "open" | "confirmed" | "closed";
  checks: number;
  last_checked_at?: string;
  last_outcome?: string;
  outcome_text: string;
  resolved_at?: string;
  resolved_by?: string;
  resolution?: string;
}

export interface RecheckRunView {
  at: string;
  kind: "daily" | "before_receipt" | "manual";
  checked: number;
  confirmed: number;
  without_numbers: number;
  unanswered: number;
  still_open: number;
}

export interface ReadinessItem {
  id: string;
  title_ja: string;
  title_en: string;
  verdict: "pass" | "warning" | "fail" | "skipped";
  detail: string;
  fix_ja?: string;
  fix_en?: string;
}

export interface ConnectionView {
  connected: boolean;
  socket: string;
  server?: string | null;
  problem?: string | null;
  can_start: boolean;
}

export interface AppInfo {
  version: string;
  kiosk_reader?: string | null;
  fullscreen: boolean;
}

export interface AppError {
  code: string;
  message: string;
}
