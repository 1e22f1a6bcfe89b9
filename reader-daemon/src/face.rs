//! The face path of the kiosk (DESIGN.md §3.1): the card photo against the camera, on a thread of its own
//! per card, and the attestation the reader signs when they match.
//!
//! - The card session reads the photo with the 照合番号B that the reader's card-face scanner gave it
//!   ([`crate::card_driver::CardCommand::ReadFacePhoto`]); the photo comes here and nowhere else.
//! - A [`FaceWorker`] thread decodes the photo (JPEG 2000), embeds its face once, opens the camera at the
//!   first attempt and closes it when told to ([`FaceWorker::close_camera`]) or when the worker is dropped
//!   (end of the card session). An attempt looks at up to `frames_per_attempt` frames and stops at the
//!   first clean frame that matches, or at the first frame that shows a photo or a screen instead of a
//!   live face ([`face_match::liveness`]), which fails the attempt.
//! - Photos, frames and embeddings live in this thread's memory only: never written, never logged. Logs
//!   carry the outcome, the score and the quality finding.
//! - [`ReaderSigner`] signs a face-match attestation with the reader's own Ed25519 key (registered with
//!   the central service), binding the card certificate, the challenge and the score.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use base64::Engine as _;
use face_match::camera::{CameraSpec, FrameSource};
use face_match::{Embedding, FaceMatcher, Finding, MATCH_THRESHOLD, QualityPolicy};
use serde::Serialize;
use sha2::{Digest, Sha256};
use terminal_ipc::FaceGuidance;
use tracing::{debug, info, info_span, warn};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why the face path cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum FaceSetupError {
    #[error(transparent)]
    Models(#[from] face_match::FaceError),
    #[error("cannot read the reader key {path}: {source}")]
    KeyRead {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the reader key {0} is not an Ed25519 PKCS#8 key in PEM")]
    KeyFormat(std::path::PathBuf),
}

/// Everything the face path needs, shared by every reader.
pub struct FaceRuntime {
    pub matcher: FaceMatcher,
    pub camera: CameraSpec,
    pub frames_per_attempt: u32,
    /// Pause between frames (a real camera needs time for the patient to move; a folder does not).
    pub frame_interval: Duration,
    pub signer: ReaderSigner,
}

impl std::fmt::Debug for FaceRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceRuntime")
            .field("camera", &self.camera)
            .field("reader_id", &self.signer.reader_id)
            .finish_non_exhaustive()
    }
}

/// The reader's own signing key and its registered id.
pub struct ReaderSigner {
    pub reader_id: String,
    key: ring::signature::Ed25519KeyPair,
}

/// A face-match attestation as the central service takes it (docs/mock-central.md): `document` is the
/// base64 of the JSON bytes of the signed document, `signature` the base64 Ed25519 signature over them.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Attestation {
    pub reader_id: String,
    pub document: String,
    pub signature: String,
}

#[derive(Serialize)]
struct AttestationDocument<'a> {
    reader_id: &'a str,
    /// SHA-256 of the card certificate DER, lowercase hex.
    card_certificate_sha256: String,
    /// The challenge (base64) this match answers.
    challenge: String,
    /// yyyyMMddHHmmss (JST).
    matched_at: String,
    /// Cosine similarity of the match.
    score: f64,
}

impl ReaderSigner {
    /// Reads the reader key (PEM `PRIVATE KEY`, Ed25519 PKCS#8).
    pub fn load(reader_id: &str, path: &Path) -> Result<Self, FaceSetupError> {
        let text = std::fs::read_to_string(path).map_err(|source| FaceSetupError::KeyRead {
            path: path.to_owned(),
            source,
        })?;
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let der = zeroize::Zeroizing::new(
            B64.decode(body.trim())
                .map_err(|_| FaceSetupError::KeyFormat(path.to_owned()))?,
        );
        let key = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| FaceSetupError::KeyFormat(path.to_owned()))?;
        Ok(Self {
            reader_id: reader_id.to_owned(),
            key,
        })
    }

    /// Signs that the face in front of the camera matched the photo of the card with `certificate`, in
    /// answer to `challenge`, at `matched_at` (`yyyyMMddHHmmss` JST, from the daemon's clock).
    pub fn attest(
        &self,
        certificate: &[u8],
        challenge: &[u8],
        score: f32,
        matched_at: String,
    ) -> Attestation {
        let doc = AttestationDocument {
            reader_id: &self.reader_id,
            card_certificate_sha256: Sha256::digest(certificate)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            challenge: B64.encode(challenge),
            matched_at,
            score: (f64::from(score) * 1000.0).round() / 1000.0,
        };
        // Serialising a struct of strings and a finite number cannot fail.
        let bytes = serde_json::to_vec(&doc).unwrap_or_default();
        let signature = self.key.sign(&bytes);
        Attestation {
            reader_id: self.reader_id.clone(),
            document: B64.encode(&bytes),
            signature: B64.encode(signature.as_ref()),
        }
    }
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    /// A clean frame matched the card photo with this similarity.
    Matched { score: f32 },
    /// No frame matched; what the patient should change.
    NotMatched { guidance: FaceGuidance },
}

/// Guidance for a quality finding.
pub fn guidance_for(finding: Finding) -> FaceGuidance {
    let reason = serde_json::to_value(finding)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    FaceGuidance {
        reason,
        message: finding.message_ja().to_owned(),
    }
}

/// Guidance when the frames were good but did not match the card.
pub fn not_matched() -> FaceGuidance {
    FaceGuidance {
        reason: "not_matched".into(),
        message: "カードの顔写真と一致しませんでした。正面を向いて、もう一度カメラを見てください。"
            .into(),
    }
}

/// Guidance when the camera, the card photo or the card could not be used.
pub fn unavailable(reason: &str) -> FaceGuidance {
    FaceGuidance {
        reason: reason.into(),
        message: "顔認証を利用できません。暗証番号または職員による確認をご利用ください。".into(),
    }
}

enum FaceCommand {
    Attempt,
    CloseCamera,
}

/// One card's face-matching thread. Dropping it ends the thread, which closes the camera and forgets the
/// photo.
pub struct FaceWorker {
    commands: std_mpsc::Sender<FaceCommand>,
}

impl FaceWorker {
    /// Starts the thread with the card photo; each [`FaceWorker::attempt`] answers through `report`.
    pub fn spawn(
        runtime: Arc<FaceRuntime>,
        session: u64,
        photo: myna_card::FacePhoto,
        report: Arc<dyn Fn(AttemptResult) -> bool + Send + Sync>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name(format!("face-{session}"))
            .spawn(move || run(runtime, session, photo, rx, report))?;
        Ok(Self { commands: tx })
    }

    pub fn attempt(&self) -> bool {
        self.commands.send(FaceCommand::Attempt).is_ok()
    }

    pub fn close_camera(&self) {
        let _ = self.commands.send(FaceCommand::CloseCamera);
    }
}

fn run(
    runtime: Arc<FaceRuntime>,
    session: u64,
    photo: myna_card::FacePhoto,
    commands: std_mpsc::Receiver<FaceCommand>,
    report: Arc<dyn Fn(AttemptResult) -> bool + Send + Sync>,
) {
    let span = info_span!("face_session", session);
    let _enter = span.enter();
    let card = card_embedding(&runtime.matcher, &photo);
    drop(photo);
    let mut camera: Option<Box<dyn FrameSource>> = None;
    while let Ok(command) = commands.recv() {
        match command {
            FaceCommand::CloseCamera => {
                if camera.take().is_some() {
                    debug!("camera closed");
                }
            }
            FaceCommand::Attempt => {
                let result = match &card {
                    Some(card) => attempt(&runtime, card, &mut camera),
                    None => AttemptResult::NotMatched {
                        guidance: unavailable("card_photo_unusable"),
                    },
                };
                if !report(result) {
                    break;
                }
            }
        }
    }
    if camera.take().is_some() {
        debug!("camera closed");
    }
    debug!("face session ended");
}

fn card_embedding(matcher: &FaceMatcher, photo: &myna_card::FacePhoto) -> Option<Embedding> {
    match matcher.analyze_bytes(photo.jpeg2000(), &QualityPolicy::PHOTO) {
        Ok(a) => {
            if !a.findings.is_empty() {
                info!(findings = ?a.findings, "card photo quality");
            }
            if a.embedding.is_none() {
                warn!(findings = ?a.findings, "the card photo has no usable face");
            }
            a.embedding
        }
        Err(e) => {
            warn!(error = %e, "the card photo could not be read");
            None
        }
    }
}

fn attempt(
    runtime: &FaceRuntime,
    card: &Embedding,
    camera: &mut Option<Box<dyn FrameSource>>,
) -> AttemptResult {
    if camera.is_none() {
        match runtime.camera.open() {
            Ok(c) => {
                debug!("camera opened");
                *camera = Some(c);
            }
            Err(e) => {
                warn!(error = %e, "the camera could not be opened");
                return AttemptResult::NotMatched {
                    guidance: unavailable("camera_error"),
                };
            }
        }
    }
    let Some(source) = camera.as_mut() else {
        return AttemptResult::NotMatched {
            guidance: unavailable("camera_error"),
        };
    };
    let mut last_finding: Option<Finding> = None;
    let mut best: Option<f32> = None;
    for n in 0..runtime.frames_per_attempt.max(1) {
        if n > 0 && !runtime.frame_interval.is_zero() {
            std::thread::sleep(runtime.frame_interval);
        }
        let frame = match source.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                warn!(error = %e, "no camera frame");
                return AttemptResult::NotMatched {
                    guidance: unavailable("camera_error"),
                };
            }
        };
        let analysis = match runtime.matcher.analyze(&frame, &QualityPolicy::CAMERA) {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "a frame could not be analysed");
                continue;
            }
        };
        drop(frame);
        if analysis.findings.contains(&Finding::PhotoOrScreen) {
            // A photo or a screen held up to the camera: the attempt ends here and counts as failed.
            warn!(
                periodicity = ?analysis.liveness.map(|l| format!("{:.1}", l.periodicity)),
                frames = n + 1,
                "face refused: a photo or a screen, not a live face"
            );
            return AttemptResult::NotMatched {
                guidance: guidance_for(Finding::PhotoOrScreen),
            };
        }
        if let Some(&finding) = analysis.findings.first() {
            last_finding = Some(finding);
            continue;
        }
        let Some(embedding) = &analysis.embedding else {
            continue;
        };
        let score = card.similarity(embedding);
        best = Some(best.map_or(score, |b: f32| b.max(score)));
        if score >= MATCH_THRESHOLD {
            info!(
                score = format!("{score:.3}"),
                frames = n + 1,
                "face matched the card photo"
            );
            return AttemptResult::Matched { score };
        }
    }
    info!(
        best = ?best.map(|b| format!("{b:.3}")),
        finding = ?last_finding,
        "face did not match the card photo"
    );
    AttemptResult::NotMatched {
        guidance: match (best, last_finding) {
            (Some(_), _) | (None, None) => not_matched(),
            (None, Some(f)) => guidance_for(f),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guidance_names_the_finding() {
        let g = guidance_for(Finding::Backlit);
        assert_eq!(g.reason, "backlit");
        assert!(g.message.contains("逆光"));
        assert_eq!(guidance_for(Finding::SeveralFaces).reason, "several_faces");
        let g = guidance_for(Finding::PhotoOrScreen);
        assert_eq!(g.reason, "photo_or_screen");
        assert!(g.message.starts_with("写真や画面ではなく"), "{}", g.message);
    }

    #[test]
    fn attestation_verifies_with_the_public_key() {
        use ring::signature::KeyPair;
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reader.key");
        std::fs::write(
            &path,
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                B64.encode(pkcs8.as_ref())
            ),
        )
        .unwrap();
        let signer = ReaderSigner::load("reader-01", &path).unwrap();
        let att = signer.attest(b"cert", b"challenge", 0.7312, "20261118103000".into());
        let doc = B64.decode(&att.document).unwrap();
        let sig = B64.decode(&att.signature).unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            signer.key.public_key().as_ref().to_vec(),
        );
        public.verify(&doc, &sig).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(v["reader_id"], "reader-01");
        assert_eq!(v["challenge"], B64.encode(b"challenge"));
        assert_eq!(v["score"], 0.731);
        assert_eq!(v["matched_at"].as_str().unwrap().len(), 14);
    }
}
