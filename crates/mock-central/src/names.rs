//! Name and address material for the synthetic population.
//!
//! Kanji names come with their half-width kana reading (as the result files carry them). A few
//! surnames use characters outside JIS X 0208 (𠮷, 髙, 﨑, 德) so that Shift_JIS output and
//! search normalisation get exercised.

/// (kanji, half-width kana)
pub const SURNAMES: &[(&str, &str)] = &[
    ("佐藤", "ｻﾄｳ"),
    ("鈴木", "ｽｽﾞｷ"),
    ("高橋", "ﾀｶﾊｼ"),
    ("田中", "ﾀﾅｶ"),
    ("伊藤", "ｲﾄｳ"),
    ("渡辺", "ﾜﾀﾅﾍﾞ"),
    ("山本", "ﾔﾏﾓﾄ"),
    ("中村", "ﾅｶﾑﾗ"),
    ("小林", "ｺﾊﾞﾔｼ"),
    ("加藤", "ｶﾄｳ"),
    ("吉田", "ﾖｼﾀﾞ"),
    ("山田", "ﾔﾏﾀﾞ"),
    ("佐々木", "ｻｻｷ"),
    ("山口", "ﾔﾏｸﾞﾁ"),
    ("松本", "ﾏﾂﾓﾄ"),
    ("井上", "ｲﾉｳｴ"),
    ("木村", "ｷﾑﾗ"),
    ("林", "ﾊﾔｼ"),
    ("斎藤", "ｻｲﾄｳ"),
    ("清水", "ｼﾐｽﾞ"),
    ("山崎", "ﾔﾏｻﾞｷ"),
    ("森", "ﾓﾘ"),
    ("池田", "ｲｹﾀﾞ"),
    ("橋本", "ﾊｼﾓﾄ"),
    ("阿部", "ｱﾍﾞ"),
    ("石川", "ｲｼｶﾜ"),
    ("山下", "ﾔﾏｼﾀ"),
    ("中島", "ﾅｶｼﾏ"),
    ("石井", "ｲｼｲ"),
    ("小川", "ｵｶﾞﾜ"),
    ("前田", "ﾏｴﾀﾞ"),
    ("岡田", "ｵｶﾀﾞ"),
    ("長谷川", "ﾊｾｶﾞﾜ"),
    ("藤田", "ﾌｼﾞﾀ"),
    ("後藤", "ｺﾞﾄｳ"),
    ("近藤", "ｺﾝﾄﾞｳ"),
    ("村上", "ﾑﾗｶﾐ"),
    ("遠藤", "ｴﾝﾄﾞｳ"),
    ("青木", "ｱｵｷ"),
    ("坂本", "ｻｶﾓﾄ"),
];

/// Surnames written with characters outside JIS X 0208 (IBM extensions, JIS X 0213, or the
/// supplementary plane), as some people register them.
pub const RARE_SURNAMES: &[(&str, &str)] = &[
    ("𠮷田", "ﾖｼﾀﾞ"),
    ("髙橋", "ﾀｶﾊｼ"),
    ("山﨑", "ﾔﾏｻﾞｷ"),
    ("德永", "ﾄｸﾅｶﾞ"),
];

pub const MALE_NAMES: &[(&str, &str)] = &[
    ("太郎", "ﾀﾛｳ"),
    ("一郎", "ｲﾁﾛｳ"),
    ("健太", "ｹﾝﾀ"),
    ("翔太", "ｼｮｳﾀ"),
    ("大輔", "ﾀﾞｲｽｹ"),
    ("誠", "ﾏｺﾄ"),
    ("浩", "ﾋﾛｼ"),
    ("蓮", "ﾚﾝ"),
    ("悠真", "ﾕｳﾏ"),
    ("陽翔", "ﾊﾙﾄ"),
    ("湊", "ﾐﾅﾄ"),
    ("拓也", "ﾀｸﾔ"),
    ("直樹", "ﾅｵｷ"),
    ("修", "ｵｻﾑ"),
    ("茂", "ｼｹﾞﾙ"),
    ("博", "ﾋﾛｼ"),
    ("和夫", "ｶｽﾞｵ"),
    ("清", "ｷﾖｼ"),
    ("隆", "ﾀｶｼ"),
    ("聡", "ｻﾄｼ"),
    ("亮", "ﾘｮｳ"),
    ("健一", "ｹﾝｲﾁ"),
    ("大樹", "ﾀﾞｲｷ"),
    ("勇気", "ﾕｳｷ"),
    ("樹", "ｲﾂｷ"),
];

pub const FEMALE_NAMES: &[(&str, &str)] = &[
    ("花子", "ﾊﾅｺ"),
    ("陽子", "ﾖｳｺ"),
    ("美咲", "ﾐｻｷ"),
    ("結衣", "ﾕｲ"),
    ("陽菜", "ﾋﾅ"),
    ("さくら", "ｻｸﾗ"),
    ("恵子", "ｹｲｺ"),
    ("幸子", "ｻﾁｺ"),
    ("由美", "ﾕﾐ"),
    ("直美", "ﾅｵﾐ"),
    ("裕子", "ﾕｳｺ"),
    ("真由美", "ﾏﾕﾐ"),
    ("愛", "ｱｲ"),
    ("葵", "ｱｵｲ"),
    ("凛", "ﾘﾝ"),
    ("芽依", "ﾒｲ"),
    ("和子", "ｶｽﾞｺ"),
    ("節子", "ｾﾂｺ"),
    ("久美子", "ｸﾐｺ"),
    ("明美", "ｱｹﾐ"),
    ("智子", "ﾄﾓｺ"),
    ("優子", "ﾕｳｺ"),
    ("舞", "ﾏｲ"),
    ("彩", "ｱﾔ"),
    ("千尋", "ﾁﾋﾛ"),
];

/// A municipality: its name, the first 3 digits of its postcodes, and some towns.
pub struct City {
    pub name: &'static str,
    pub post3: u16,
    pub towns: &'static [&'static str],
    /// 市町村国保 insurer number without check digit (5 digits: prefecture 2 + municipality 3).
    pub kokuho5: u32,
}

pub struct Prefecture {
    pub code: u8,
    pub name: &'static str,
    pub cities: &'static [City],
}

pub const PREFECTURES: &[Prefecture] = &[
    Prefecture {
        code: 1,
        name: "北海道",
        cities: &[City {
            name: "札幌市中央区",
            post3: 60,
            towns: &["北一条西", "南三条西", "宮の森"],
            kokuho5: 1010,
        }],
    },
    Prefecture {
        code: 4,
        name: "宮城県",
        cities: &[City {
            name: "仙台市青葉区",
            post3: 980,
            towns: &["一番町", "国分町", "上杉"],
            kokuho5: 4010,
        }],
    },
    Prefecture {
        code: 11,
        name: "埼玉県",
        cities: &[City {
            name: "さいたま市浦和区",
            post3: 330,
            towns: &["高砂", "仲町", "岸町"],
            kokuho5: 11010,
        }],
    },
    Prefecture {
        code: 13,
        name: "東京都",
        cities: &[
            City {
                name: "中野区",
                post3: 165,
                towns: &["鷺宮", "中野", "野方", "江古田"],
                kokuho5: 13140,
            },
            City {
                name: "世田谷区",
                post3: 154,
                towns: &["三軒茶屋", "太子堂", "上馬"],
                kokuho5: 13120,
            },
            City {
                name: "新宿区",
                post3: 160,
                towns: &["西新宿", "高田馬場", "四谷"],
                kokuho5: 13040,
            },
        ],
    },
    Prefecture {
        code: 14,
        name: "神奈川県",
        cities: &[City {
            name: "横浜市中区",
            post3: 231,
            towns: &["山下町", "元町", "本牧"],
            kokuho5: 14010,
        }],
    },
    Prefecture {
        code: 17,
        name: "石川県",
        cities: &[
            City {
                name: "金沢市",
                post3: 920,
                towns: &["広坂", "香林坊", "片町", "東山"],
                kokuho5: 17010,
            },
            City {
                name: "輪島市",
                post3: 928,
                towns: &["河井町", "鳳至町", "門前町"],
                kokuho5: 17040,
            },
            City {
                name: "珠洲市",
                post3: 927,
                towns: &["飯田町", "宝立町", "正院町"],
                kokuho5: 17050,
            },
            City {
                name: "七尾市",
                post3: 926,
                towns: &["府中町", "和倉町", "田鶴浜町"],
                kokuho5: 17020,
            },
        ],
    },
    Prefecture {
        code: 23,
        name: "愛知県",
        cities: &[City {
            name: "名古屋市中区",
            post3: 460,
            towns: &["栄", "丸の内", "大須"],
            kokuho5: 23010,
        }],
    },
    Prefecture {
        code: 27,
        name: "大阪府",
        cities: &[City {
            name: "大阪市北区",
            post3: 530,
            towns: &["梅田", "天満", "中之島"],
            kokuho5: 27010,
        }],
    },
    Prefecture {
        code: 34,
        name: "広島県",
        cities: &[City {
            name: "広島市中区",
            post3: 730,
            towns: &["紙屋町", "八丁堀", "基町"],
            kokuho5: 34010,
        }],
    },
    Prefecture {
        code: 40,
        name: "福岡県",
        cities: &[City {
            name: "福岡市博多区",
            post3: 812,
            towns: &["博多駅前", "中洲", "祇園町"],
            kokuho5: 40010,
        }],
    },
    Prefecture {
        code: 47,
        name: "沖縄県",
        cities: &[City {
            name: "那覇市",
            post3: 900,
            towns: &["久茂地", "牧志", "首里"],
            kokuho5: 47010,
        }],
    },
];

/// Employer health-insurance societies (組合健保): (name, prefecture code).
pub const SOCIETIES: &[(&str, u8)] = &[
    ("日本電機健康保険組合", 13),
    ("東都商事健康保険組合", 13),
    ("北陸製造健康保険組合", 17),
    ("中部自動車健康保険組合", 23),
    ("関西流通健康保険組合", 27),
    ("九州電力機器健康保険組合", 40),
];

/// Convert ASCII digits and hyphens to full-width, as addresses in result files are written.
pub fn full_width_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c),
            '-' => '－',
            other => other,
        })
        .collect()
}
