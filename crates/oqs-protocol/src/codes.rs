//! Code tables (業務コード, 別紙5-1 "OQSCDnnn") as enums.
//!
//! Each enum carries the official code and its Japanese meaning (in the variant's doc comment and in
//! [`meaning_ja`](QualificationValidity::meaning_ja)). A code outside the table is kept verbatim in
//! `Unknown(String)`: it survives a read→write round trip and [`crate::Message::validate`] reports it.
//! Sources: `/work/shared/reference/oqs-file-interface.md` §1.5.2 (S3, S4, S6b).

macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $table:literal {
            $( $variant:ident = $code:literal, $ja:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
        pub enum $name {
            $(
                #[doc = concat!("`", $code, "` ", $ja)]
                $variant,
            )+
            /// A code that is not in the table; kept verbatim and reported by validation.
            Unknown(String),
        }

        impl $name {
            /// Name of the official code table, for messages.
            pub const TABLE: &'static str = $table;

            /// The code as written in the file.
            pub fn code(&self) -> &str {
                match self {
                    $( Self::$variant => $code, )+
                    Self::Unknown(code) => code,
                }
            }

            /// Maps a code from a file; never fails (unknown codes become `Unknown`).
            pub fn from_code(code: &str) -> Self {
                match code {
                    $( $code => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }

            /// The Japanese meaning from the code table, `None` for unknown codes.
            pub fn meaning_ja(&self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($ja), )+
                    Self::Unknown(_) => None,
                }
            }

            /// Whether the code is in the table.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }

            /// All codes of the table, for messages ("expected one of …").
            pub fn known_codes() -> &'static [&'static str] {
                &[$( $code ),+]
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $( Self::$variant => write!(f, "{}({})", stringify!($variant), $code), )+
                    Self::Unknown(code) => write!(f, "Unknown({code:?})"),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let code = String::deserialize(deserializer)?;
                Ok(Self::from_code(&code))
            }
        }

        impl crate::validate::CodeTable for $name {
            fn table(&self) -> &'static str {
                Self::TABLE
            }
            fn code_str(&self) -> &str {
                self.code()
            }
            fn known(&self) -> bool {
                self.is_known()
            }
            fn expected() -> &'static [&'static str] {
                Self::known_codes()
            }
        }
    };
}

code_enum! {
    /// 資格有効性 (OQSCD006).
    QualificationValidity, "OQSCD006 資格有効性" {
        Valid = "1", "有効";
        Invalid = "2", "無効";
        InvalidNewQualification = "3", "無効（新しい資格あり）";
        NoQualification = "4", "該当資格なし";
        MultipleMatches = "5", "複数該当（医療保険のみ）";
        ValidUnregistered = "6", "有効（未登録）（医療扶助のみ）";
    }
}

code_enum! {
    /// 処理結果区分 of the whole file (`MessageHeader/SegmentOfResult`).
    SegmentOfResult, "SegmentOfResult 処理結果区分" {
        Normal = "1", "正常終了";
        InProgress = "2", "処理中";
        Abnormal = "9", "異常終了";
    }
}

code_enum! {
    /// 処理結果状況 per person (`ProcessingResultStatus`).
    ProcessingResultStatus, "ProcessingResultStatus 処理結果状況" {
        Normal = "1", "正常終了";
        Error = "2", "エラー";
    }
}

code_enum! {
    /// 照会区分: what the query was made from (`ReferenceClassification`).
    ReferenceClassification, "ReferenceClassification 照会区分" {
        MyNumberCard = "1", "マイナンバーカード";
        InsuranceCardInfo = "2", "被保険者証情報";
    }
}

code_enum! {
    /// 文字コード識別 (OQSCD005, `CharacterCodeIdentifier`). One third-party table says 1 = UTF-8 / 2 = Shift_JIS;
    /// every file seen in the field follows this table.
    CharacterCodeIdentifier, "OQSCD005 文字コード識別" {
        Utf8 = "0", "UTF-8";
        ShiftJis = "1", "Shift_JIS";
    }
}

code_enum! {
    /// 被保険者証区分 (OQSCD010).
    InsuredCardClassification, "OQSCD010 被保険者証区分" {
        General = "01", "一般";
        Retired = "02", "退職";
        ShortTermGeneral = "03", "短期（一般）";
        ShortTermRetired = "04", "短期（退職）";
        CertificateOfQualification = "05", "資格証明書（特別療養費支給対象者）";
        SpecialRetired = "06", "特例退職";
        SelfDefenseForces = "07", "自衛官診療証";
        MedicalAssistance = "A1", "医療扶助";
    }
}

code_enum! {
    /// 閲覧制限 of a record (DV・虐待 支援措置): the project's own table, because no public source names the element
    /// or its values (docs/file-interface.md, "Restricted records").
    DisclosureRestriction, "DisclosureRestrictionFlag 閲覧制限（プロジェクト独自）" {
        Unrestricted = "0", "制限なし";
        Restricted = "1", "閲覧制限あり（DV・虐待等の支援措置）";
    }
}

code_enum! {
    /// 本人・家族の別 (OQSCD009).
    PersonalFamilyClassification, "OQSCD009 本人・家族の別" {
        Insured = "1", "本人";
        Family = "2", "家族";
    }
}

code_enum! {
    /// 性別 (OQSCD007), used by `Sex1` (券面記載) and `Sex2`.
    Sex, "OQSCD007 性別" {
        Male = "1", "男";
        Female = "2", "女";
        NotSet = "3", "未設定";
    }
}

code_enum! {
    /// 資格喪失事由 (OQSCD008).
    ReasonOfLoss, "OQSCD008 資格喪失事由" {
        Death = "01", "死亡";
        PublicAssistance = "02", "生活保護受給開始";
        OtherInsurance = "03", "医療保険等の資格取得";
        Other = "99", "その他";
    }
}

code_enum! {
    /// 未就学区分 (OQSCD015).
    PreschoolClassification, "OQSCD015 未就学区分" {
        Preschool = "1", "未就学";
    }
}

code_enum! {
    /// 限度額適用認定証 提供同意 (OQSCD001, `LimitApplicationCertificateRelatedConsFlg`).
    ProvisionConsent, "OQSCD001 提供同意区分" {
        NotConsented = "0", "未同意";
        Consented = "1", "同意";
    }
}

code_enum! {
    /// 同意区分 (OQSCD016), the viewing-consent state of 特定健診 / 薬剤 / 診療 / 手術 information and 特定疾病.
    ConsentState, "OQSCD016 同意区分" {
        NoConsent = "0", "同意なし";
        Consented = "1", "同意あり";
        Expired = "2", "同意有効期限切れ";
        Unobtainable = "3", "同意取得困難";
    }
}

code_enum! {
    /// 限度額適用認定証 区分 (OQSCD011). The official names of the three values are not public.
    LimitClassification, "OQSCD011 限度額適用認定証区分" {
        Class01 = "01", "区分01（名称非公開）";
        Class02 = "02", "区分02（名称非公開）";
        Class03 = "03", "区分03（名称非公開）";
    }
}

code_enum! {
    /// 限度額適用認定証 適用区分 (OQSCD012): A01–A06 are the under-70 classes ア〜オ(境), B01–B10 the 70-and-over
    /// classes 現役並みⅢ〜一般Ⅰ (S4 maps them to 高額療養費区分). Only
    /// A01–A06 and B01–B03 have public names; the others say so.
    LimitClassificationFlag, "OQSCD012 適用区分" {
        A01 = "A01", "ア";
        A02 = "A02", "イ";
        A03 = "A03", "ウ";
        A04 = "A04", "エ";
        A05 = "A05", "オ";
        A06 = "A06", "オ（境）";
        B01 = "B01", "現役並みⅢ";
        B02 = "B02", "現役並みⅡ";
        B03 = "B03", "現役並みⅠ";
        B04 = "B04", "70歳以上の区分（現役並みⅠ〜一般Ⅰの範囲; 個別名称は非公開）";
        B05 = "B05", "70歳以上の区分（現役並みⅠ〜一般Ⅰの範囲; 個別名称は非公開）";
        B06 = "B06", "70歳以上の区分（現役並みⅠ〜一般Ⅰの範囲; 個別名称は非公開）";
        B07 = "B07", "70歳以上の区分（現役並みⅠ〜一般Ⅰの範囲; 個別名称は非公開）";
        B08 = "B08", "70歳以上の区分（現役並みⅠ〜一般Ⅰの範囲; 個別名称は非公開）";
        B09 = "B09", "70歳以上の区分（現役並みⅠ〜一般Ⅰの範囲; 個別名称は非公開）";
        B10 = "B10", "70歳以上の区分（現役並みⅠ〜一般Ⅰの範囲; 個別名称は非公開）";
    }
}

code_enum! {
    /// 特定疾病区分 (OQSCD013).
    SpecificDiseaseCategory, "OQSCD013 特定疾病区分" {
        Dialysis = "1", "人工透析";
        Hemophilia = "2", "血友病";
        Hiv = "3", "HIV";
    }
}

code_enum! {
    /// 限度額適用認定証情報変更有無 (OQSCD014).
    LimitCertificateChanged, "OQSCD014 限度額適用認定証情報変更有無" {
        Unchanged = "0", "なし";
        ChangedOrUnknown = "1", "あり／判定不能";
    }
}

code_enum! {
    /// 処方箋発行形態 (OQSCD017, `PrescriptionIssueSelect`): the patient's choice at the kiosk.
    PrescriptionIssueSelect, "OQSCD017 処方箋発行形態" {
        Electronic = "1", "電子処方箋";
        Paper = "2", "紙の処方箋";
    }
}

code_enum! {
    /// 診療区分 (OQSCD028, `MedicalTreatmentFlag`).
    MedicalTreatmentFlag, "OQSCD028 診療区分" {
        Outpatient = "1", "外来";
        HomeVisit = "2", "訪問診療等";
        Online = "3", "オンライン診療等";
        Emergency = "4", "救急時";
    }
}

code_enum! {
    /// 薬剤情報・特定健診情報の結果コード (`ResultCode` of YZK/TKK results). Only `1` is confirmed (S1);
    /// `2` is the project's convention for an error (docs/file-interface.md).
    MedicalInfoResultCode, "ResultCode 薬剤・特定健診 結果コード" {
        Success = "1", "正常";
        Failure = "2", "エラー";
    }
}

code_enum! {
    /// File category of a YZK/TKK request (`FileCategory`, inferred from S1; project convention G11).
    /// For TKK only `1` (PDF) and `2` (XML) apply.
    FileCategory, "FileCategory 提供ファイル種別" {
        DrugPdf = "1", "薬剤情報PDF（特定健診PDF）";
        DrugXml = "2", "薬剤情報XML（特定健診XML）";
        DrugTreatmentPdf = "3", "薬剤情報＋診療情報PDF";
        DrugTreatmentXml = "4", "薬剤情報＋診療情報XML";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_are_kept_verbatim() {
        let v = QualificationValidity::from_code("7");
        assert_eq!(v, QualificationValidity::Unknown("7".into()));
        assert_eq!(v.code(), "7");
        assert!(!v.is_known());
        assert_eq!(
            QualificationValidity::from_code("1"),
            QualificationValidity::Valid
        );
        assert_eq!(MedicalTreatmentFlag::Emergency.meaning_ja(), Some("救急時"));
        assert_eq!(InsuredCardClassification::from_code("A1").code(), "A1");
    }
}
