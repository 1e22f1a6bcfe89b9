//! `oqs face compare IMAGE_A IMAGE_B`: the face matcher on two pictures (JPEG, PNG or JPEG 2000), for an IT
//! vendor checking a camera or a card photo, and for the demo.
//!
//! Prints the similarity, the decision and each picture's quality findings. Exit codes: 0 the same person,
//! 1 different people, 2 no decision (no face, several faces, a face too small or cut off, the second
//! picture a photo or a screen held up to the camera, an unreadable picture, models not installed), with
//! the reason on stderr. The pictures are read, never written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use face_match::{Analysis, Decision, FaceMatcher, MATCH_THRESHOLD, QualityPolicy};
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum FaceCommand {
    /// Compare the faces in two pictures: exit 0 same person, 1 different people, 2 no decision.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first picture (e.g. the card photo, JPEG 2000).
    pub image_a: PathBuf,
    /// The second picture (e.g. a camera frame): refused when it shows a photo or a screen held up to
    /// the camera.
    pub image_b: PathBuf,
    /// Folder with the two model files (default: `$OQS_FACE_MODELS`, then the set-up location).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Do not check that the second picture is a live face (for comparing two stored photos).
    #[arg(long)]
    pub no_liveness: bool,
}

pub fn run(cmd: FaceCommand) -> ExitCode {
    match cmd {
        FaceCommand::Compare(args) => compare(&args),
    }
}

#[derive(Serialize)]
struct Side<'a> {
    path: &'a Path,
    faces: usize,
    findings: Vec<Finding>,
    /// The liveness check's measure (the second picture only: the camera side).
    #[serde(skip_serializing_if = "Option::is_none")]
    periodicity: Option<f32>,
}

#[derive(Serialize)]
struct Finding {
    finding: face_match::Finding,
    message: &'static str,
}

#[derive(Serialize)]
struct Report<'a> {
    similarity: Option<f32>,
    threshold: f32,
    decision: Decision,
    a: Side<'a>,
    b: Side<'a>,
}

fn side<'a>(path: &'a Path, a: &Analysis) -> Side<'a> {
    Side {
        path,
        faces: a.faces.len(),
        periodicity: a.liveness.map(|l| l.periodicity),
        findings: a
            .findings
            .iter()
            .map(|&f| Finding {
                finding: f,
                message: f.message_en(),
            })
            .collect(),
    }
}

fn compare(args: &CompareArgs) -> ExitCode {
    let matcher = match &args.models {
        Some(dir) => FaceMatcher::load(dir),
        None => FaceMatcher::load_default(),
    };
    let matcher = match matcher {
        Ok(m) => m,
        Err(e) => {
            eprintln!("oqs face compare: {e}");
            return ExitCode::from(2);
        }
    };
    let analyse = |path: &Path, policy: &QualityPolicy| -> Result<Analysis, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        matcher
            .analyze_bytes(&bytes, policy)
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    // Either picture may be a card photo or a camera frame: both are held to the card photo's lighter
    // size and sharpness limits, and the findings say when a picture is weak. The second is the camera's
    // side, and must show a live face, not a photo or a screen held up to the camera.
    let camera = QualityPolicy {
        check_liveness: !args.no_liveness,
        ..QualityPolicy::PHOTO
    };
    let (a, b) = match (
        analyse(&args.image_a, &QualityPolicy::PHOTO),
        analyse(&args.image_b, &camera),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("oqs face compare: no decision: {e}");
            return ExitCode::from(2);
        }
    };
    let c = FaceMatcher::decide(a, b);
    let report = Report {
        similarity: c.similarity,
        threshold: MATCH_THRESHOLD,
        decision: c.decision,
        a: side(&args.image_a, &c.first),
        b: side(&args.image_b, &c.second),
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("oqs face compare: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        match report.similarity {
            Some(s) => println!("similarity: {s:.3} (threshold {MATCH_THRESHOLD})"),
            None => println!("similarity: none"),
        }
        println!(
            "decision: {}",
            match report.decision {
                Decision::Same => "same person",
                Decision::Different => "different people",
                Decision::Undecided => "no decision",
            }
        );
        for s in [&report.a, &report.b] {
            let found: Vec<&str> = s.findings.iter().map(|f| f.message).collect();
            println!(
                "{}: {} face(s){}",
                s.path.display(),
                s.faces,
                if found.is_empty() {
                    String::new()
                } else {
                    format!("; {}", found.join("; "))
                }
            );
        }
    }
    match report.decision {
        Decision::Same => ExitCode::SUCCESS,
        Decision::Different => ExitCode::from(1),
        Decision::Undecided => {
            let reasons: Vec<String> = [&report.a, &report.b]
                .iter()
                .flat_map(|s| {
                    s.findings
                        .iter()
                        .filter(|f| f.finding.blocks_decision())
                        .map(|f| format!("{}: {}", s.path.display(), f.message))
                        .collect::<Vec<_>>()
                })
                .collect();
            eprintln!("oqs face compare: no decision: {}", reasons.join("; "));
            ExitCode::from(2)
        }
    }
}
