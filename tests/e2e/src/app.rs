//! The real app window under test: a private Xvfb display, `tauri-driver` (which runs WebKitWebDriver), and
//! a small W3C WebDriver client over HTTP. Each [`AppWindow`] is one `oqs-terminal` process in one WebDriver
//! session; two can run at once (reception and kiosk), each with its own driver.
//!
//! Nothing is skipped: a missing `Xvfb`, `tauri-driver` or `WebKitWebDriver` is a failure that names the
//! package to install (`make test` installs them through `scripts/setup-debian.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::{MockCentral, Process, bin, free_port, wait_for};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn need(program: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.exists())
    });
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin").join(program));
    found.or(home.filter(|p| p.exists())).unwrap_or_else(|| {
        panic!("`{program}` is missing; install it ({package}), or run `make setup`")
    })
}

/// A private X display.
pub struct Display {
    pub number: u32,
    _process: Process,
}

impl Display {
    /// Starts `Xvfb :N` on a free display number (1280×1024, 24-bit).
    pub fn start(log_dir: &Path) -> Self {
        let xvfb = need("Xvfb", "apt-get install xvfb");
        for _ in 0..50 {
            let number = 100 + (std::process::id() + free_port() as u32) % 800;
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
                || Path::new(&format!("/tmp/.X{number}-lock")).exists()
            {
                continue;
            }
            let mut cmd = Command::new(&xvfb);
            cmd.arg(format!(":{number}")).args([
                "-screen",
                "0",
                "1280x1024x24",
                "-nolisten",
                "tcp",
            ]);
            let mut process = Process::spawn(cmd, log_dir.join(format!("xvfb-{number}.log")));
            let socket = format!("/tmp/.X11-unix/X{number}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && process.is_running() && !Path::new(&socket).exists()
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            if process.is_running() && Path::new(&socket).exists() {
                return Self {
                    number,
                    _process: process,
                };
            }
        }
        panic!("could not start Xvfb on a free display");
    }

    pub fn env(&self) -> String {
        format!(":{}", self.number)
    }
}

/// `tauri-driver` on a free port, for one session at a time.
pub struct Driver {
    pub port: u16,
    process: Process,
}

impl Driver {
    pub fn start(display: &Display, log_dir: &Path) -> Self {
        Self::start_with_env(display, log_dir, &[])
    }

    /// [`Driver::start`], with environment variables for the app it starts (it inherits the driver's).
    pub fn start_with_env(display: &Display, log_dir: &Path, env: &[(&str, &Path)]) -> Self {
        let driver = need("tauri-driver", "cargo install tauri-driver --locked");
        let native = need("WebKitWebDriver", "apt-get install webkit2gtk-driver");
        let port = free_port();
        let native_port = free_port();
        let mut cmd = Command::new(driver);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .arg("--native-driver")
        .arg(native)
        .env("DISPLAY", display.env())
        .env("GDK_BACKEND", "x11");
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Its own process group, so that the WebKitWebDriver it starts, the app that one starts and anything the
        // app starts (a daemon from the readiness screen) go with it when the driver is dropped.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut process = Process::spawn(cmd, log_dir.join(format!("tauri-driver-{port}.log")));
        // Both must listen: tauri-driver, and the WebKitWebDriver it started (it forwards the session to it).
        wait_for(
            "tauri-driver and WebKitWebDriver to listen",
            Duration::from_secs(30),
            || {
                assert!(
                    process.is_running(),
                    "tauri-driver exited:\n{}",
                    process.log_text()
                );
                let up = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
                (up(port) && up(native_port)).then_some(())
            },
        );
        Self { port, process }
    }

    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

impl Drop for Driver {
    /// SIGKILL to the whole group: killing tauri-driver alone left WebKitWebDriver (and what it started)
    /// running after the test.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.process.id())])
            .status();
    }
}

/// One `oqs-terminal` window in a WebDriver session.
pub struct AppWindow {
    base: String,
    agent: ureq::Agent,
    pub started: Instant,
    driver: Driver,
}

/// Lists the visible controls outside the viewport, and the page's overflow if it can scroll.
const VIEWPORT_SCRIPT: &str = r#"
const w = window.innerWidth, h = window.innerHeight, out = [];
const d = document.scrollingElement || document.documentElement;
if (d.scrollHeight > h + 1 || d.scrollWidth > w + 1) out.push(`page scrolls: ${d.scrollWidth}x${d.scrollHeight} in ${w}x${h}`);
for (const e of document.querySelectorAll('button, input, select, textarea, a[href], [role=button]')) {
  const r = e.getBoundingClientRect();
  if (!r.width || !r.height || getComputedStyle(e).visibility === 'hidden') continue;
  if (r.left < -0.5 || r.top < -0.5 || r.right > w + 0.5 || r.bottom > h + 0.5) {
    out.push(`${e.dataset.testid || e.tagName} at ${Math.round(r.left)},${Math.round(r.top)}-${Math.round(r.right)},${Math.round(r.bottom)} in ${w}x${h}`);
  }
}
return out;
"#;

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl AppWindow {
    /// Starts `oqs-terminal ARGS` through `driver` and waits for its first screen to be interactive.
    pub fn open(driver: Driver, args: &[&str]) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{}", driver.port);
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": bin("oqs-terminal"),
            "args": args,
        }}}});
        let started = Instant::now();
        let mut window = Self {
            base,
            agent,
            started,
            driver,
        };
        let value = window.call("POST", "/session", Some(caps));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"))
            .to_owned();
        window.base = format!("{}/session/{id}", window.base);
        window
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, Some(body)) => self.agent.post(&url).send_json(&body),
            (_, None) => self.agent.post(&url).send_json(json!({})),
        };
        let mut response = response.unwrap_or_else(|e| {
            panic!(
                "WebDriver {method} {path} failed: {e}\n{}",
                self.driver.log_text()
            )
        });
        let status = response.status();
        let value: Value = response
            .body_mut()
            .read_json()
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: answer is not JSON: {e}"));
        assert!(
            status.is_success(),
            "WebDriver {method} {path} answered {status}: {value}\n{}",
            self.driver.log_text()
        );
        value["value"].clone()
    }

    fn try_find(&self, css: &str) -> Option<Element> {
        let url = format!("{}/element", self.base);
        let mut response = self
            .agent
            .post(&url)
            .send_json(json!({"using": "css selector", "value": css}))
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let value: Value = response.body_mut().read_json().ok()?;
        value["value"][ELEMENT_KEY]
            .as_str()
            .map(|s| Element(s.to_owned()))
    }

    /// What the driver and the app it started wrote to their standard output and error so far.
    pub fn log_text(&self) -> String {
        self.driver.log_text()
    }

    /// Waits up to `timeout` for an element matching `css`.
    pub fn find_within(&self, css: &str, timeout: Duration) -> Element {
        wait_for(&format!("element `{css}`"), timeout, || self.try_find(css))
    }

    /// Waits up to 20 s for an element matching `css`.
    pub fn find(&self, css: &str) -> Element {
        self.find_within(css, Duration::from_secs(20))
    }

    pub fn exists(&self, css: &str) -> bool {
        self.try_find(css).is_some()
    }

    /// All elements matching `css` now.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{}/click", e.0), None);
    }

    pub fn text_of(&self, e: &Element) -> String {
        self.call("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.text_of(&e)
    }

    /// The text of `css` as read, without the furigana (`<rt>`) that WebDriver's text would run into it.
    pub fn text_without_ruby(&self, css: &str) -> String {
        self.find(css);
        self.script(
            "const e = document.querySelector(arguments[0]); if (!e) return ''; \
             const c = e.cloneNode(true); c.querySelectorAll('rt').forEach(r => r.remove()); \
             return c.textContent;",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let e = self.find(css);
        self.attribute_of(&e, name)
    }

    pub fn attribute_of(&self, e: &Element, name: &str) -> Option<String> {
        self.call("GET", &format!("/element/{}/attribute/{name}", e.0), None)
            .as_str()
            .map(str::to_owned)
    }

    /// Types into a field (after clearing it).
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{}/clear", e.0), None);
        self.call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        );
    }

    /// Sends keys to whatever has the focus (W3C actions), e.g. "\u{E004}" for Tab.
    pub fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for ch in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": ch.to_string()}));
            actions.push(json!({"type": "keyUp", "value": ch.to_string()}));
        }
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Presses `keys` together (e.g. Shift + Tab: `["\u{E008}", "\u{E004}"]`) and releases them in reverse.
    pub fn chord(&self, keys: &[&str]) {
        let mut actions: Vec<Value> = keys
            .iter()
            .map(|k| json!({"type": "keyDown", "value": k}))
            .collect();
        actions.extend(
            keys.iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k})),
        );
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// The `data-testid` of the element that has the focus (empty when none has).
    pub fn focused(&self) -> String {
        self.script(
            "const e = document.activeElement; return (e && e.dataset && e.dataset.testid) || '';",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Runs a script in the page and returns its value.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Waits until `css`'s text (without furigana) contains `needle`; returns the text.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        let mut last = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.try_find(css).is_some() {
                last = self.text_without_ruby(css);
                if last.contains(needle) {
                    return last;
                }
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` did not show `{needle}` within 30 s; it shows `{last}`"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Saves a screenshot of the window as `dir/name.png`.
    pub fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::create_dir_all(dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Milliseconds from process start to the first live screen, as the app measured it.
    /// Resizes the window (WebDriver Set Window Rect) and waits until the page sees the new viewport.
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
        crate::wait_for(
            "the page to take the new size",
            Duration::from_secs(10),
            || {
                let v = self.script("return [window.innerWidth, window.innerHeight]", json!([]));
                // Without a window manager the window has no frame: its size is the viewport's.
                (v[0].as_u64() == Some(u64::from(width))
                    && v[1].as_u64() == Some(u64::from(height)))
                .then_some(())
            },
        );
    }

    /// The window's size (WebDriver Get Window Rect).
    pub fn size(&self) -> (u32, u32) {
        let r = self.call("GET", "/window/rect", None);
        let dim = |k: &str| r[k].as_f64().map(|v| v.round() as u32).unwrap_or(0);
        (dim("width"), dim("height"))
    }

    /// Every visible control (button, input, select, link) not wholly inside the viewport, and whether the page
    /// scrolls at all, as lines for a test's message; empty when everything fits.
    pub fn outside_viewport(&self) -> Vec<String> {
        let found = self.script(VIEWPORT_SCRIPT, json!([]));
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn interactive_ms(&self) -> u64 {
        let e = self.find_within(
            "[data-interactive-ms]:not([data-interactive-ms=''])",
            Duration::from_secs(30),
        );
        self.attribute_of(&e, "data-interactive-ms")
            .and_then(|v| v.parse().ok())
            .expect("data-interactive-ms is a number")
    }

    /// Ends the session (closes the app).
    pub fn close(self) {
        let _ = self.agent.delete(&self.base).call();
    }
}

/// Where the app tests put their screenshots: `target/e2e-screenshots/` (CI keeps the folder).
pub fn screenshot_dir() -> PathBuf {
    crate::workspace().join("target/e2e-screenshots")
}

/// The lowest contrast ratio between any visible text and its background on the page (WCAG 2 formula), with
/// the text that has it. Large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1; the script returns
/// the worst ratio relative to the threshold that applies.
const CONTRAST_SCRIPT: &str = r#"
function lum(c) {
  const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
  const p = m[1].split(',').map(s => parseFloat(s));
  if (p.length > 3 && p[3] === 0) return null;
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(p[0]) + 0.7152 * f(p[1]) + 0.0722 * f(p[2]);
}
function bg(el) {
  for (let e = el; e; e = e.parentElement) { const l = lum(getComputedStyle(e).backgroundColor); if (l !== null) return l; }
  return 1;
}
const fixed = arguments[0];
let worst = { margin: 99, ratio: 99, text: '' };
for (const el of document.querySelectorAll('body *')) {
  const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.getClientRects().length) continue;
  const s = getComputedStyle(el);
  if (s.visibility === 'hidden' || el.closest('rt')) continue;
  const fg = lum(s.color); if (fg === null) continue;
  const b = bg(el);
  const ratio = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
  const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
  const need = fixed || ((size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5);
  if (ratio / need < worst.margin) worst = { margin: ratio / need, ratio, text: el.textContent.trim().slice(0, 40) };
}
return worst;
"#;

pub fn assert_contrast(window: &AppWindow, screen: &str) -> f64 {
    let worst = window.script(CONTRAST_SCRIPT, json!([null]));
    let margin = worst["margin"].as_f64().expect("contrast margin");
    assert!(
        margin >= 1.0,
        "the kiosk's {screen} screen fails WCAG AA contrast: {worst}"
    );
    worst["ratio"].as_f64().unwrap_or(0.0)
}

/// Like [`assert_contrast`], but every text, large or not, must have a contrast of `ratio` or more (7.0: WCAG
/// AAA for body text, the kiosk's high-contrast mode). Returns the worst ratio.
pub fn assert_contrast_at_least(window: &AppWindow, screen: &str, ratio: f64) -> f64 {
    let worst = window.script(CONTRAST_SCRIPT, json!([ratio]));
    let margin = worst["margin"].as_f64().expect("contrast margin");
    assert!(
        margin >= 1.0,
        "the kiosk's {screen} screen has text below {ratio}:1: {worst}"
    );
    worst["ratio"].as_f64().unwrap_or(0.0)
}

/// The kiosk displays the screens must fit without scrolling (besides the full HD the other tests use).
pub const KIOSK_SIZES: [(u32, u32); 2] = [(1024, 768), (1280, 800)];

/// Checks the kiosk's current screen at each of `KIOSK_SIZES`: no control outside the viewport and no scrolling;
/// a screenshot at the smallest; then the window's size is put back.
pub fn assert_fits(kiosk: &AppWindow, shots: &Path, screen: &str) {
    let (w, h) = kiosk.size();
    for (width, height) in KIOSK_SIZES {
        kiosk.resize(width, height);
        let outside = kiosk.outside_viewport();
        if width == KIOSK_SIZES[0].0 {
            kiosk.screenshot(shots, &format!("kiosk-{screen}-{width}x{height}"));
        }
        assert!(
            outside.is_empty(),
            "the kiosk's {screen} screen does not fit {width}x{height}:\n{}",
            outside.join("\n")
        );
    }
    kiosk.resize(w, h);
}

/// A process seen in `/proc`: pid, parent, command name, resident kB.
fn processes() -> Vec<(u32, u32, String, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let field = |k: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(k))
                    .map(|l| l[k.len()..].trim().to_owned())
                    .unwrap_or_default()
            };
            let kb = field("VmRSS:")
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            Some((pid, field("PPid:").parse().ok()?, field("Name:"), kb))
        })
        .collect()
}

impl AppWindow {
    /// Resident memory in kB of this window's app process and of its WebKit helper processes.
    pub fn rss_kb(&self) -> (u64, u64) {
        let all = processes();
        let mut tree = vec![self.driver.process.child.id()];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
            i += 1;
        }
        let (mut app, mut web) = (0, 0);
        for (pid, _, name, kb) in &all {
            if !tree.contains(pid) {
                continue;
            }
            if name.starts_with("oqs-terminal") {
                app += kb;
            } else if name.starts_with("WebKit") && !name.starts_with("WebKitWebDriver") {
                web += kb;
            }
        }
        (app, web)
    }
}

/// GETs the facility's environment settings, changes them with `edit`, and PUTs them back with the admin
/// credential, over mutual TLS (curl, as a facility's IT vendor would).
pub fn change_settings(central: &MockCentral, edit: impl FnOnce(&mut serde_json::Value)) {
    let d = &central.dir;
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "--cacert"])
            .arg(d.join("ca.crt"))
            .arg("--cert")
            .arg(d.join("terminal.crt"))
            .arg("--key")
            .arg(d.join("terminal.key"))
            .args(extra)
            .arg(format!("{}v1/facility/settings", central.url()))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        out.stdout
    };
    let view: serde_json::Value = serde_json::from_slice(&curl(&[])).expect("settings JSON");
    let mut settings = view["settings"].clone();
    edit(&mut settings);
    let credential =
        std::fs::read_to_string(d.join("admin-credential.txt")).expect("admin credential");
    curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Authorization: Bearer {}", credential.trim()),
        "-H",
        "Content-Type: application/json",
        "--data",
        &settings.to_string(),
    ]);
}

/// The text of a PDF the app saved, page by page, in the order it was drawn (pdftotext -raw: a cell wrapped over
/// several lines stays together); pages are split at form feeds.
pub fn pdf_pages(path: &str) -> Vec<String> {
    let out = Command::new("pdftotext")
        .args(["-raw", path, "-"])
        .output()
        .expect("run pdftotext (apt-get install poppler-utils)");
    assert!(out.status.success(), "pdftotext failed on {path}");
    let text = String::from_utf8(out.stdout).expect("UTF-8 text");
    text.split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Without spaces and line breaks: a PDF wraps long sentences and pads columns.
pub fn squeezed(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The kiosk's next consent screen (its item, e.g. `medical_subsidy`) or `result`, from one look at the page
/// (so a screen that changes between two looks cannot confuse a test); waits up to 30 s for either.
pub fn next_kiosk_screen(kiosk: &AppWindow) -> String {
    crate::wait_for(
        "a consent or result screen",
        std::time::Duration::from_secs(30),
        || {
            kiosk
                .script(
                    "const c = document.querySelector('[data-consent]'); \
                     if (c) return c.dataset.consent; \
                     return document.querySelector('[data-outcome]') ? 'result' : null;",
                    serde_json::json!([]),
                )
                .as_str()
                .map(str::to_owned)
        },
    )
}

/// Opens the staff window (reception, or a 閲覧用端末's viewer) on the daemon's socket and waits until it is
/// interactive.
pub fn open_staff_window(display: &Display, daemon: &crate::Daemon) -> AppWindow {
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let window = AppWindow::open(
        Driver::start(display, &daemon.root),
        &["--socket", socket.to_str().expect("socket path")],
    );
    window.interactive_ms();
    window
}

/// Opens the kiosk window for `reader` on the daemon's socket and waits for its first screen.
pub fn open_kiosk(display: &Display, daemon: &crate::Daemon, reader: &str) -> AppWindow {
    open_kiosk_with_env(display, daemon, reader, &[])
}

/// [`open_kiosk`], with environment variables for the app (e.g. `OQS_SPEECH_RECORD`).
pub fn open_kiosk_with_env(
    display: &Display,
    daemon: &crate::Daemon,
    reader: &str,
    env: &[(&str, &Path)],
) -> AppWindow {
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let kiosk = AppWindow::open(
        Driver::start_with_env(display, &daemon.root, env),
        &[
            "--kiosk",
            "--socket",
            socket.to_str().expect("socket path"),
            "--reader",
            reader,
        ],
    );
    kiosk.interactive_ms();
    kiosk
}

/// What a kiosk window test stands on: one virtual card issued, a reader leased, the mock central service asking
/// every consent, the daemon on that reader, a private display. Fields drop display first, cards last.
pub struct KioskRig {
    pub display: Display,
    pub daemon: crate::Daemon,
    pub central: MockCentral,
    pub lease: pcsc_harness::ReaderLease,
    pub cards: crate::kiosk::Cards,
}

impl KioskRig {
    /// The rig with `kiosk_settings` as the daemon's `[kiosk]` table (its body, e.g. `"voice = false\n"`).
    pub fn start(kiosk_settings: &str) -> Self {
        let cards = crate::kiosk::Cards::issue(1);
        let lease = pcsc_harness::reader();
        let central = MockCentral::start(100, Some(&cards.dir));
        ask_every_consent(&central);
        let daemon = crate::Daemon::start(
            &central,
            &format!(
                "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n{kiosk_settings}",
                lease.reader
            ),
        );
        let display = Display::start(&daemon.root);
        Self {
            display,
            daemon,
            central,
            lease,
            cards,
        }
    }

    /// The kiosk window for the leased reader, with `env` for the app.
    pub fn open_kiosk(&self, env: &[(&str, &Path)]) -> AppWindow {
        open_kiosk_with_env(&self.display, &self.daemon, &self.lease.reader, env)
    }
}

/// Sets the facility's environment settings so that the kiosk asks every consent screen it can.
pub fn ask_every_consent(central: &MockCentral) {
    change_settings(central, |s| {
        s["operation_info"] = true.into();
        s["medication_info"] = true.into();
        s["diagnosis_info"] = true.into();
        s["checkup_info"] = true.into();
        s["medical_subsidy_info"] = true.into();
    });
}

/// A kiosk catalogue of `ui/src/kiosk/locales`, as the text a reader sees: tags removed, furigana (`<rt>`)
/// dropped.
pub fn kiosk_catalogue(lang: &str) -> std::collections::BTreeMap<String, String> {
    let path = crate::workspace().join(format!("ui/src/kiosk/locales/{lang}.json"));
    let text = std::fs::read_to_string(&path).expect("catalogue");
    let messages: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&text).expect("catalogue JSON");
    messages
        .into_iter()
        .map(|(k, v)| (k, as_read(&v)))
        .collect()
}

fn as_read(markup: &str) -> String {
    let mut out = String::new();
    let mut rest = markup;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tag_end = rest[open..].find('>').map_or(rest.len(), |i| open + i + 1);
        if rest[open..].starts_with("<rt>") {
            // Skip the reading up to its </rt>.
            let close = rest[open..]
                .find("</rt>")
                .map_or(rest.len(), |i| open + i + "</rt>".len());
            rest = &rest[close..];
        } else {
            rest = &rest[tag_end..];
        }
    }
    out.push_str(rest);
    out
}

/// Types the PIN on the kiosk's keypad and confirms.
pub fn enter_pin(kiosk: &AppWindow, pin: &str) {
    for d in pin.chars() {
        kiosk.click(&format!("[data-testid='pin-{d}']"));
    }
    kiosk.click("[data-testid='pin-ok']");
}
