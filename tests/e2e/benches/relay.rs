//! Relay benchmark, printed as figures (issue 5 benchmarks b, c, d):
//!
//! - (b) request file written (tmp + rename, as a careful receipt computer does) → result file present in
//!   `res/`, one request at a time: median, p95, p99;
//! - (c) sustained throughput: 2,000 requests dropped at once → all results present: files per second;
//! - (d) the daemon's resident memory when idle, after the runs.
//!
//! Real `oqs-readerd` and mock central service over mutual TLS on loopback. Build them first in the same
//! profile, then run inside a keyutils session keyring (the daemon keeps its keys there):
//!
//! ```sh
//! cargo build --release -p reader-daemon -p mock-central && cargo bench -p e2e --bench relay
//! ```

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::{Daemon, MockCentral, single_check_request};

const MARKER: &str = "OQS_BENCH_IN_KEYUTILS_SESSION";

fn main() {
    if std::env::var_os(MARKER).is_none() {
        // Re-run inside a private keyutils session keyring.
        let exe = std::env::current_exe().expect("bench executable");
        let status = Command::new("keyctl")
            .args(["session", "-"])
            .arg(exe)
            .args(std::env::args().skip(1))
            .env(MARKER, "1")
            .status()
            .expect("run keyctl (apt-get install keyutils)");
        std::process::exit(status.code().unwrap_or(1));
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the list of benchmarks
    }
    let central = MockCentral::start(1000, None);
    let daemon = Daemon::start(&central, "concurrency = 16\n");

    // Warm up the connection pool and the store.
    for i in 0..20 {
        one(&daemon, &central, &format!("warm{i:04}"));
    }

    // (b) latency, one at a time.
    let mut latencies: Vec<Duration> = (0..300)
        .map(|i| one(&daemon, &central, &format!("lat{i:05}")))
        .collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "relay latency (request written -> result present), n={}: median {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        ms(pct(0.5)),
        ms(pct(0.95)),
        ms(pct(0.99)),
        ms(*latencies.last().expect("latencies"))
    );

    // (c) throughput.
    let n = 2000;
    let started = Instant::now();
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let (name, bytes) = single_check_request(&central.facility_code, &format!("tp{i:05}"));
        daemon.drop_request(&name, &bytes);
        names.push(name.replace("req_", "res_"));
    }
    let res = daemon.res();
    for name in &names {
        wait(&res.join(name), Duration::from_secs(300));
    }
    let elapsed = started.elapsed();
    println!(
        "relay throughput: {n} requests in {:.2} s = {:.0} files/s (concurrency 16)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );

    // (d) idle memory.
    std::thread::sleep(Duration::from_secs(3));
    if let Some(pid) = daemon.pid() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap_or("VmRSS: unknown");
        println!(
            "daemon idle resident memory after the runs: {}",
            rss.trim_start_matches("VmRSS:").trim()
        );
    }
}

fn one(daemon: &Daemon, central: &MockCentral, id: &str) -> Duration {
    let (name, bytes) = single_check_request(&central.facility_code, id);
    let result = daemon.res().join(name.replace("req_", "res_"));
    let started = Instant::now();
    daemon.drop_request(&name, &bytes);
    wait(&result, Duration::from_secs(30));
    started.elapsed()
}

fn wait(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(Instant::now() < deadline, "no result {}", path.display());
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
