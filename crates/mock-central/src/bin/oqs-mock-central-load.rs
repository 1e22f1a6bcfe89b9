//! `oqs-mock-central-load`: load benchmark of a running mock central service, from its own process.
//!
//! Single eligibility checks (`OQSsiquc01`) over mutual TLS with keep-alive connections for a fixed
//! time, then four-fact emergency searches; prints requests/s and latency percentiles. Only
//! loopback targets are accepted, and every loop is bounded by time and count.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use mock_central::dates::ymd;
use mock_central::init::DirInfo;
use mock_central::population::generate_person;
use mock_central::rng::Rng;

#[derive(Parser)]
#[command(
    name = "oqs-mock-central-load",
    about = "Load benchmark for oqs-mock-central (mutual TLS, keep-alive)"
)]
struct Args {
    /// The served data directory (certificates, central.json).
    #[arg(long)]
    dir: PathBuf,
    /// Port of the server on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// Seconds of single checks.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Four-fact searches to time after the checks.
    #[arg(long, default_value_t = 2000)]
    searches: usize,
    /// Concurrent four-fact searches.
    #[arg(long, default_value_t = 4)]
    search_connections: usize,
    /// Worker threads of this process.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn single_body(facility: &str, seed: u64, id: i64) -> String {
    let g = generate_person(seed, id);
    let q = &g.qualifications[0];
    let symbol = if q.symbol.is_empty() {
        String::new()
    } else {
        format!("<InsuredCardSymbol>{}</InsuredCardSymbol>", q.symbol)
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader><QualificationConfirmationDate>{}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode><ArbitraryFileIdentifier>load{id}</ArbitraryFileIdentifier></MessageHeader>\
         <MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{:>8}</InsurerNumber>{symbol}<InsuredIdentificationNumber>{}</InsuredIdentificationNumber>\
         <InsuredBranchNumber>{}</InsuredBranchNumber><Birthdate>{}</Birthdate><LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\
         </QualificationConfirmSearchInfo></MessageBody></XmlMsg>",
        oqs_clock::Clock::system().ymd_jst(),
        q.insurer_number,
        q.number,
        q.branch,
        ymd(g.person.birth)
    )
}

fn four_fact_body(seed: u64, id: i64) -> serde_json::Value {
    let g = generate_person(seed, id);
    // The fourth fact: the municipality part of the address (after the prefecture name).
    let city: String = g
        .person
        .address
        .chars()
        .skip_while(|c| !matches!(c, '都' | '道' | '府' | '県'))
        .skip(1)
        .take(3)
        .collect();
    serde_json::json!({
        "viewer": {"id": "load-doctor", "emergency_permission": "1",
                   "factors": [{"element": "1", "method": "01"}, {"element": "3", "method": "02"}]},
        "reason": "load benchmark",
        "four_facts": {"name": g.person.name, "birthdate": ymd(g.person.birth), "sex": g.person.sex.to_string(),
                       "insurer_name_or_address": city}
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let host: IpAddr = "127.0.0.1".parse()?;
    if !host.is_loopback() {
        bail!("only loopback targets are allowed");
    }
    let info: DirInfo = serde_json::from_slice(
        &std::fs::read(args.dir.join(mock_central::init::INFO_FILE))
            .context("reading central.json")?,
    )?;
    let base = format!("https://localhost:{}", args.port);
    let client = mock_central::client::terminal_client(&args.dir)?;
    client
        .get(format!("{base}/healthz"))
        .send()
        .await?
        .error_for_status()
        .context("server not healthy")?;

    // Pre-built bodies for random people, so the client spends its time on the wire, not on XML.
    let mut rng = Rng::new(0x10AD, 1);
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..20_000)
            .map(|_| {
                single_body(
                    &info.facility_code,
                    info.seed,
                    1 + rng.below(info.population as u64) as i64,
                )
            })
            .collect(),
    );
    println!(
        "population {} · {} connections · {} s of single checks",
        info.population, args.connections, args.seconds
    );

    let deadline = Instant::now() + Duration::from_secs(args.seconds.min(600));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.connections {
        let client = client.clone();
        let bodies = bodies.clone();
        let url = format!("{base}/v1/messages/OQSsiquc01req_load{w}.xml");
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            let mut i = w;
            // Bounded by time and by count.
            while Instant::now() < deadline && lat.len() < 5_000_000 {
                let body = bodies[i % bodies.len()].clone();
                i += 7;
                let t = Instant::now();
                match client.post(&url).body(body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let bytes = r.bytes().await.unwrap_or_default();
                        if !bytes.windows(25).any(|w| w == b"<SegmentOfResult>1</Segme") {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    println!(
        "single checks: {} in {:.1} s = {:.0} checks/s · p50 {:.2} ms · p99 {:.2} ms · errors {}",
        lat.len(),
        elapsed,
        lat.len() as f64 / elapsed,
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        errors
    );

    // Four-fact searches (emergency lookups: search, summary, access log write).
    let n = args.searches.min(100_000);
    let per = n.div_ceil(args.search_connections.max(1));
    let mut tasks = Vec::new();
    for w in 0..args.search_connections.max(1) {
        let client = client.clone();
        let url = format!("{base}/v1/emergency/lookup");
        let seed = info.seed;
        let pop = info.population;
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(0x5EA2, w as u64);
            let mut lat = Vec::with_capacity(per);
            let mut outcomes = [0u64; 4];
            for _ in 0..per {
                let body = four_fact_body(seed, 17 + rng.below((pop - 16).max(1) as u64) as i64);
                let t = Instant::now();
                let status = client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                lat.push(t.elapsed());
                outcomes[match status {
                    200 => 0,
                    409 => 1,
                    404 => 2,
                    _ => 3,
                }] += 1;
            }
            (lat, outcomes)
        }));
    }
    let mut lat = Vec::new();
    let mut outcomes = [0u64; 4];
    for t in tasks {
        let (l, o) = t.await?;
        lat.extend(l);
        for i in 0..4 {
            outcomes[i] += o[i];
        }
    }
    lat.sort_unstable();
    println!(
        "four-fact searches: {} · p50 {:.2} ms · p95 {:.2} ms · p99 {:.2} ms · found {} / more facts needed {} / none {} / errors {}",
        lat.len(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.95).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        outcomes[0],
        outcomes[1],
        outcomes[2],
        outcomes[3]
    );
    Ok(())
}
