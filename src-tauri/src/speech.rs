//! Spoken guidance for the kiosk (issue 19 item 1), made on this PC and never fetched: Japanese with Open JTalk
//! (the Debian packages `open-jtalk`, `open-jtalk-mecab-naist-jdic` and the HTS voice
//! `hts-voice-nitech-jp-atr503-m001`), the other languages with `espeak-ng` where it has a voice.
//!
//! The synthesizer runs as a child process with its arguments as a list (no shell), the text on its standard
//! input, the WAV written into a private temporary folder (mode 0700) that is removed afterwards, and a time
//! limit after which the child is killed. The text is the kiosk catalogue's wording with its ruby markup
//! removed; it never carries a PIN digit (the PIN pad says which position was entered, not what). Nothing of
//! the text is logged, only its language and length.
//!
//! Test hook: with `OQS_SPEECH_RECORD=DIR` in the app's environment every WAV made here is also written to DIR
//! (`NNNN.wav`) with a line of `speech.jsonl` naming the file, the text and the language. Tests only.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What went wrong making speech, in words an IT vendor can act on.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// The kiosk's language has no voice on this PC (e.g. Tagalog: espeak-ng has none); the kiosk stays silent.
    #[error("音声案内はこの言語に対応していません / no voice for the language `{lang}`")]
    NoVoice { lang: String },
    /// Nothing to say once the markup is removed.
    #[error("読み上げる文がありません / nothing to speak")]
    Empty,
    /// More than a screen's worth of text (the kiosk's longest message is a few hundred characters).
    #[error(
        "読み上げる文が長すぎます / the text to speak has {chars} characters, more than {MAX_CHARS}"
    )]
    TooLong { chars: usize },
    /// The synthesizer program is not installed (scripts/setup-debian.sh installs it).
    #[error(
        "音声合成プログラム {program} が見つかりません (open-jtalk / espeak-ng をインストールしてください) / \
         the speech synthesizer {program} is not installed: {source}"
    )]
    NotInstalled {
        program: String,
        source: std::io::Error,
    },
    /// The synthesizer ran but failed.
    #[error("音声合成に失敗しました / {program} failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    /// The synthesizer did not finish in time and was killed.
    #[error(
        "音声合成が {after_ms} ミリ秒で終わらず中止しました / {program} took over {after_ms} ms and was killed"
    )]
    Timeout { program: String, after_ms: u128 },
    /// What it wrote is not a RIFF/WAVE file.
    #[error("音声合成の出力が WAV ではありません / {program} did not write a WAV file")]
    NotWav { program: String },
    /// The private temporary folder or the WAV could not be written or read.
    #[error("音声ファイルを扱えません / speech file: {0}")]
    Io(#[from] std::io::Error),
}

/// The most one message may hold, in characters after the markup is removed.
pub const MAX_CHARS: usize = 2000;

/// Where the synthesizers and their data are; [`Synthesizers::default`] is the Debian packages' layout.
#[derive(Debug, Clone)]
pub struct Synthesizers {
    pub open_jtalk: PathBuf,
    /// The MeCab dictionary Open JTalk reads (`open-jtalk-mecab-naist-jdic`).
    pub dictionary: PathBuf,
    /// The HTS voice (`hts-voice-nitech-jp-atr503-m001`: a male voice, NIT, CC BY 3.0).
    pub voice: PathBuf,
    pub espeak: PathBuf,
    /// The longest one synthesis may take before the child is killed.
    pub timeout: Duration,
}

impl Default for Synthesizers {
    fn default() -> Self {
        Self {
            open_jtalk: "open_jtalk".into(),
            dictionary: "/var/lib/mecab/dic/open-jtalk/naist-jdic".into(),
            voice: "/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice"
                .into(),
            espeak: "espeak-ng".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One run of a synthesizer: the program, its arguments, what goes to its standard input, and where it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub stdin: String,
    pub wav: PathBuf,
}

/// The espeak-ng voice for a kiosk language (the BCP 47 tags of the kiosk's chooser); `None`: no voice.
fn espeak_voice(lang: &str) -> Option<&'static str> {
    Some(match lang {
        "en" => "en-us",
        "zh-Hans" | "zh" => "cmn",
        "ko" => "ko",
        "vi" => "vi",
        // The kiosk's Portuguese and Spanish are Brazil's and Latin America's (the residents who need them).
        "pt" => "pt-br",
        "es" => "es-419",
        "ne" => "ne",
        // Tagalog ("tl"): espeak-ng has no voice for it.
        _ => return None,
    })
}

impl Synthesizers {
    /// How to say `text` (already without markup) in `lang`, writing the WAV to `wav`.
    pub fn invocation(
        &self,
        text: &str,
        lang: &str,
        wav: &Path,
    ) -> Result<Invocation, SpeechError> {
        if text.trim().is_empty() {
            return Err(SpeechError::Empty);
        }
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(SpeechError::TooLong { chars });
        }
        // One line each: Open JTalk and espeak-ng read their input by lines.
        let stdin = text.split_whitespace().collect::<Vec<_>>().join(" ") + "\n";
        if lang == "ja" {
            let args = vec![
                "-x".into(),
                self.dictionary.clone().into_os_string(),
                "-m".into(),
                self.voice.clone().into_os_string(),
                "-ow".into(),
                wav.as_os_str().to_owned(),
            ];
            return Ok(Invocation {
                program: self.open_jtalk.clone(),
                args,
                stdin,
                wav: wav.to_owned(),
            });
        }
        let voice = espeak_voice(lang).ok_or_else(|| SpeechError::NoVoice {
            lang: lang.to_owned(),
        })?;
        Ok(Invocation {
            program: self.espeak.clone(),
            args: vec![
                "-v".into(),
                voice.into(),
                "-w".into(),
                wav.as_os_str().to_owned(),
                "--stdin".into(),
            ],
            stdin,
            wav: wav.to_owned(),
        })
    }

    /// Says `markup` (a catalogue message: ruby readings and tags are removed first) in `lang`; the WAV's bytes.
    pub async fn speak(&self, markup: &str, lang: &str) -> Result<Vec<u8>, SpeechError> {
        let text = strip_markup(markup);
        let dir = tempfile::Builder::new().prefix("oqs-speech-").tempdir()?;
        let invocation = self.invocation(&text, lang, &dir.path().join("speech.wav"))?;
        let started = Instant::now();
        let wav = run(&invocation, self.timeout).await?;
        tracing::debug!(
            lang,
            chars = text.chars().count(),
            ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "speech made"
        );
        record(&text, lang, &wav);
        Ok(wav)
    }
}

/// Runs one synthesis and returns the WAV it wrote; past `timeout` the child is killed (and reaped).
pub async fn run(invocation: &Invocation, timeout: Duration) -> Result<Vec<u8>, SpeechError> {
    let program = invocation.program.display().to_string();
    let mut child = tokio::process::Command::new(&invocation.program)
        .args(&invocation.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                SpeechError::NotInstalled {
                    program: program.clone(),
                    source,
                }
            }
            _ => SpeechError::Io(source),
        })?;
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    let text = invocation.stdin.clone();
    let talk = async move {
        if let Some(mut stdin) = stdin {
            // A child that exits without reading its input is judged by its status below.
            let _ = stdin.write_all(text.as_bytes()).await;
        }
    };
    let listen = async move {
        let mut said = Vec::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_end(&mut said).await;
        }
        said
    };
    let finished = tokio::time::timeout(timeout, async {
        let ((), said, status) = tokio::join!(talk, listen, child.wait());
        status.map(|status| (status, said))
    })
    .await;
    let (status, said) = match finished {
        Ok(done) => done?,
        Err(_) => {
            // Killed and waited for: no synthesizer is left running behind a kiosk screen.
            let _ = child.kill().await;
            return Err(SpeechError::Timeout {
                program,
                after_ms: timeout.as_millis(),
            });
        }
    };
    if !status.success() {
        let stderr = String::from_utf8_lossy(&said);
        return Err(SpeechError::Failed {
            program,
            status: status.to_string(),
            stderr: stderr.trim().chars().take(400).collect(),
        });
    }
    let wav = std::fs::read(&invocation.wav)?;
    if wav.len() < 44 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err(SpeechError::NotWav { program });
    }
    Ok(wav)
}

/// The text a patient hears from a catalogue message: `<rt>` readings (and `<rp>`) dropped, the base text of
/// each `<ruby>` kept, other tags removed (`<br>` as a space), the few entities the catalogues use decoded.
pub fn strip_markup(markup: &str) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut rest = markup;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('>') else {
            // A lone `<` is text.
            out.push_str(after);
            rest = "";
            break;
        };
        let tag = after[1..close].trim().to_ascii_lowercase();
        let name = tag.split_whitespace().next().unwrap_or("");
        if name == "rt" || name == "rp" {
            let end = format!("</{name}>");
            rest = after.find(&end).map_or("", |i| &after[i + end.len()..]);
            continue;
        }
        if name == "br" || name == "br/" {
            out.push(' ');
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The test hook: with `OQS_SPEECH_RECORD=DIR`, a copy of each WAV and a JSON line with its text and language.
fn record(text: &str, lang: &str, wav: &[u8]) {
    let Some(dir) = std::env::var_os("OQS_SPEECH_RECORD") else {
        return;
    };
    if let Err(e) = record_into(Path::new(&dir), text, lang, wav) {
        tracing::warn!(error = %e, "the speech recording (OQS_SPEECH_RECORD) failed");
    }
}

fn record_into(dir: &Path, text: &str, lang: &str, wav: &[u8]) -> std::io::Result<()> {
    static NEXT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = NEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::fs::create_dir_all(dir)?;
    let n = (1..100_000)
        .find(|n| !dir.join(format!("{n:04}.wav")).exists())
        .ok_or_else(|| std::io::Error::other("too many recordings"))?;
    let file = format!("{n:04}.wav");
    std::fs::write(dir.join(&file), wav)?;
    let line = serde_json::json!({ "file": file, "text": text, "lang": lang });
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("speech.jsonl"))?;
    writeln!(log, "{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_readings_and_tags_are_removed_before_speaking() {
        assert_eq!(
            strip_markup(
                "<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby> (4<ruby>桁<rt>けた</rt></ruby>) を入力"
            ),
            "暗証番号 (4桁) を入力"
        );
        assert_eq!(
            strip_markup("<ruby>漢<rp>(</rp><rt>かん</rt><rp>)</rp></ruby>字<br>次&amp;行"),
            "漢字 次&行"
        );
        assert_eq!(
            strip_markup("Place your card  here.\n"),
            "Place your card here."
        );
        assert_eq!(strip_markup("a < b"), "a < b");
    }

    #[test]
    fn japanese_goes_to_open_jtalk_and_the_others_to_espeak_with_arguments_as_a_list() {
        let s = Synthesizers::default();
        let wav = Path::new("/tmp/x/speech.wav");
        let ja = s.invocation("1桁目を入力しました", "ja", wav).unwrap();
        assert_eq!(ja.program, PathBuf::from("open_jtalk"));
        let args: Vec<_> = ja.args.iter().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args,
            [
                "-x",
                "/var/lib/mecab/dic/open-jtalk/naist-jdic",
                "-m",
                "/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice",
                "-ow",
                "/tmp/x/speech.wav"
            ]
        );
        // The text goes on standard input, never in the arguments.
        assert_eq!(ja.stdin, "1桁目を入力しました\n");
        for (lang, voice) in [
            ("en", "en-us"),
            ("zh-Hans", "cmn"),
            ("ko", "ko"),
            ("vi", "vi"),
            ("pt", "pt-br"),
            ("es", "es-419"),
            ("ne", "ne"),
        ] {
            let i = s.invocation("; rm -rf / `x` $(y)", lang, wav).unwrap();
            assert_eq!(i.program, PathBuf::from("espeak-ng"), "{lang}");
            let args: Vec<_> = i.args.iter().map(|a| a.to_string_lossy()).collect();
            assert_eq!(args, ["-v", voice, "-w", "/tmp/x/speech.wav", "--stdin"]);
            assert_eq!(i.stdin, "; rm -rf / `x` $(y)\n");
        }
        assert!(matches!(
            s.invocation("Ilagay ang card", "tl", wav),
            Err(SpeechError::NoVoice { lang }) if lang == "tl"
        ));
        assert!(matches!(
            s.invocation("  ", "ja", wav),
            Err(SpeechError::Empty)
        ));
        let long = "あ".repeat(MAX_CHARS + 1);
        assert!(matches!(
            s.invocation(&long, "ja", wav),
            Err(SpeechError::TooLong { chars }) if chars == MAX_CHARS + 1
        ));
        // Several lines become one (the synthesizers read line by line).
        assert_eq!(s.invocation("a\nb", "en", wav).unwrap().stdin, "a b\n");
    }

    #[tokio::test]
    async fn a_missing_synthesizer_is_a_typed_error() {
        let s = Synthesizers {
            open_jtalk: "/nonexistent/open_jtalk".into(),
            espeak: "/nonexistent/espeak-ng".into(),
            ..Synthesizers::default()
        };
        for lang in ["ja", "en"] {
            let err = s.speak("テスト", lang).await.unwrap_err();
            assert!(
                matches!(&err, SpeechError::NotInstalled { program, .. } if program.starts_with("/nonexistent/")),
                "{err:?}"
            );
            assert!(err.to_string().contains("not installed"), "{err}");
        }
    }

    #[tokio::test]
    async fn a_synthesizer_past_its_time_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // A stand-in synthesizer that never finishes; it says its pid first.
        let invocation = Invocation {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "echo $$ > \"$0\"; exec sleep 600".into(),
                pid_file.clone().into_os_string(),
            ],
            stdin: String::new(),
            wav: dir.path().join("speech.wav"),
        };
        let started = Instant::now();
        let err = run(&invocation, Duration::from_secs(3)).await.unwrap_err();
        assert!(
            matches!(err, SpeechError::Timeout { after_ms: 3000, .. }),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(300));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
        // `run` killed the child and waited for it before returning: no process, not even a zombie.
        assert!(
            !proc.exists(),
            "the timed-out synthesizer {} still runs",
            pid.trim()
        );
    }

    #[tokio::test]
    async fn the_installed_synthesizers_make_wav_files() {
        let s = Synthesizers::default();
        for (text, lang) in [("1桁目を入力しました", "ja"), ("Digit 1 entered", "en")] {
            let wav = s
                .speak(text, lang)
                .await
                .unwrap_or_else(|e| panic!("{lang}: {e}"));
            assert_eq!(&wav[0..4], b"RIFF");
            assert!(wav.len() > 1000, "{lang}: {} bytes", wav.len());
        }
    }
}
