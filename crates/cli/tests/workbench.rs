//! `hhrisk workbench`: the JSON API against `calibrate`, saving models, the
//! loopback-only bind, and the page in a real browser (Chromium and ChromeDriver).

mod common;

use std::path::Path;

use common::{fixture, hhrisk, model, repo, sections, stderr};

/// A running `hhrisk workbench` on a free port, stopped when dropped.
struct Workbench {
    child: std::process::Child,
    addr: String,
}

impl Drop for Workbench {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_workbench() -> Workbench {
    start_workbench_on(&model())
}

fn start_workbench_on(model_file: &Path) -> Workbench {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hhrisk"))
        .args(["workbench", "--port", "0", "--replicates", "100", "--model"])
        .arg(model_file)
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches(['/', ' '])
        .split('/')
        .next()
        .unwrap()
        .to_string();
    Workbench { child, addr }
}

/// One HTTP/1.1 request; returns the status and the body. Reads as many
/// bytes as `Content-Length` says (ChromeDriver keeps connections open),
/// or to the end.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{BufRead, Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = std::io::BufReader::new(s);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line[9..12].parse().unwrap();
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    let mut bytes = Vec::new();
    match (length, chunked) {
        (Some(n), false) => {
            bytes.resize(n, 0);
            reader.read_exact(&mut bytes).unwrap();
        }
        _ => {
            reader.read_to_end(&mut bytes).unwrap();
        }
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    // chunked bodies: keep the JSON or HTML between the first and last bracket
    let body = match (chunked, body.find(['{', '<']), body.rfind(['}', '>'])) {
        (true, Some(a), Some(z)) => body[a..=z].to_string(),
        _ => body,
    };
    (status, body)
}

#[test]
fn the_workbench_answers_with_the_figures_calibrate_gives_for_the_edited_model() {
    let wb = start_workbench();
    let (status, page) = http(&wb.addr, "GET", "/", "");
    assert_eq!(status, 200);
    assert!(!page.contains("src=\"http"), "offline page");
    let title = &page[page.find("<title>").unwrap()..page.find("</title>").unwrap() + "</title>".len()];
    insta::assert_snapshot!("page_title", title);
    let (status, m) = http(&wb.addr, "GET", "/api/model", "");
    assert_eq!(status, 200);
    let m: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["items"].as_array().unwrap().len(), 55);

    // I01 from 15 to 20 points, yellow from 12 to 14
    let edits = r#"{"points": {"I01": 20}, "bands": [{"level": "red", "min_score": 25}, {"level": "orange", "min_score": 18}, {"level": "yellow", "min_score": 14}]}"#;
    let (status, body) = http(&wb.addr, "POST", "/api/evaluate", edits);
    assert_eq!(status, 200, "{body}");
    let from_page: serde_json::Value = serde_json::from_str(&body).unwrap();

    // the same model, saved as a file, calibrated by the command
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(model()).unwrap();
    let marker =
        "points = 15\ndepartment = \"civil_affairs\"\nmain = true\nrationale = \"Meets the income test";
    assert_eq!(text.matches(marker).count(), 1);
    let edited = text
        .replace(marker, &marker.replace("points = 15", "points = 20"))
        .replace("label_en = \"Yellow\"\nmin = 12", "label_en = \"Yellow\"\nmin = 14");
    let path = dir.path().join("edited.toml");
    std::fs::write(&path, edited).unwrap();
    let from_command = calibrated_on_samples(&path, &dir.path().join("calibration"));
    for key in ["baseline", "in_sample", "leave_one_village_out", "bands"] {
        assert_eq!(from_page[key], from_command[key], "{key}");
    }
    // and it differs from the unedited model
    let (_, plain) = http(&wb.addr, "POST", "/api/evaluate", "{}");
    let plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_ne!(plain["baseline"]["in_sample"]["precision"], from_page["baseline"]["in_sample"]["precision"]);

    // malformed requests get a clear 400 or 422
    let mut answers = Vec::new();
    for (body, status) in [
        ("{bad", 400),
        (r#"{"pionts": {}}"#, 422),
        (r#"{"points": {"X99": 1}}"#, 422),
        (r#"{"bands": [{"level": "red", "min_score": 5}, {"level": "orange", "min_score": 9}]}"#, 422),
    ] {
        let (got, text) = http(&wb.addr, "POST", "/api/evaluate", body);
        assert_eq!(got, status, "{body}: {text}");
        answers.push((format!("{status} {body}"), text));
    }
    insta::assert_snapshot!("malformed_requests", sections(answers));
}

#[test]
fn the_workbench_binds_only_loopback_unless_told() {
    let run = hhrisk()
        .args(["workbench", "--bind", "0.0.0.0", "--port", "0", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .assert()
        .code(1);
    insta::assert_snapshot!("bind_not_loopback", stderr(&run));
}

#[test]
fn the_workbench_saves_a_new_model_and_never_the_original_unasked() {
    let wb = start_workbench();
    let dir = tempfile::tempdir().unwrap();
    let original = model().display().to_string();
    let (status, text) =
        http(&wb.addr, "POST", "/api/save", &format!(r#"{{"path": {original:?}, "edits": {{}}}}"#));
    assert_eq!(status, 409, "{text}");
    let target = dir.path().join("edited.toml");
    let edits = r#"{"points": {"I01": 20}, "weights": {"medical": 1.5}, "off": ["H02"], "bands": [{"level": "red", "min_score": 26}, {"level": "orange", "min_score": 18}, {"level": "yellow", "min_score": 13}]}"#;
    let (status, text) = http(
        &wb.addr,
        "POST",
        "/api/save",
        &format!(r#"{{"path": {:?}, "edits": {edits}}}"#, target.display().to_string()),
    );
    assert_eq!(status, 200, "{text}");
    // saving again over it is refused unless asked
    let (status, _) =
        http(&wb.addr, "POST", "/api/save", &format!(r#"{{"path": {:?}}}"#, target.display().to_string()));
    assert_eq!(status, 409);
    // the saved model has the edits, and the thresholds file scores
    let listed = hhrisk().args(["items", "--format", "csv", "--model"]).arg(&target).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.lines().any(|l| l.starts_with("I01,") && l.contains(",20,")), "{listed}");
    assert!(
        listed.lines().any(|l| l.starts_with("H02,") && l.contains(",0,") && !l.contains("trigger")),
        "{listed}"
    );
    let saved = std::fs::read_to_string(&target).unwrap();
    assert!(saved.contains("id = \"medical\"\nweight = 1.5"), "weight written");
    let (_, page_figures) = http(&wb.addr, "POST", "/api/evaluate", edits);
    let page_figures: serde_json::Value = serde_json::from_str(&page_figures).unwrap();
    let command = calibrated_on_samples(&target, &dir.path().join("calibration"));
    assert_eq!(page_figures["baseline"], command["baseline"]);
    hhrisk()
        .args(["score", "--model"])
        .arg(&target)
        .arg("--roster")
        .arg(fixture())
        .arg("--thresholds")
        .arg(dir.path().join("edited.thresholds.toml"))
        .arg("--out")
        .arg(dir.path().join("s.csv"))
        .assert()
        .success();
}

/// A headless Chromium driven through ChromeDriver (the W3C WebDriver
/// protocol, plain HTTP and JSON).
struct Browser {
    driver: std::process::Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(&self.addr, "DELETE", &format!("/session/{}", self.session), "");
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    fn start() -> Option<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = serde_json::json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            format!("--user-data-dir={}", profile.path().display()),
        ]);
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}});
        let (status, body) = http(&addr, "POST", "/session", &caps.to_string());
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Some(Browser { driver, addr, session, _profile: profile })
    }

    fn call(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, text) =
            http(&self.addr, method, &format!("/session/{}{path}", self.session), &body.to_string());
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", serde_json::json!({ "url": url }));
    }

    fn element(&self, css: &str) -> String {
        let v = self.call("POST", "/element", serde_json::json!({"using": "css selector", "value": css}));
        v.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string()
    }

    fn text(&self, css: &str) -> String {
        let script = format!("const e = document.querySelector({css:?}); return e ? e.textContent : null;");
        self.call("POST", "/execute/sync", serde_json::json!({"script": script, "args": []}))
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.call("POST", &format!("/element/{e}/clear"), serde_json::json!({}));
        // a Tab afterwards leaves the field, which fires its change event
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            serde_json::json!({ "text": format!("{text}\u{E004}") }),
        );
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.call("POST", &format!("/element/{e}/click"), serde_json::json!({}));
    }

    /// Waits until `css` holds a text for which `done` holds.
    fn wait_for(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        for _ in 0..300 {
            let t = self.text(css);
            if done(&t) {
                return t;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{css} never got there: {:?}", self.text(css));
    }
}

#[test]
fn in_a_real_browser_an_edit_shows_calibrate_figures_and_the_saved_model_reloads() {
    let Some(browser) = Browser::start() else {
        assert!(
            std::env::var_os("HHRISK_REQUIRE_BROWSER").is_none(),
            "chromium and chromedriver are required here: .ci/run installs them"
        );
        eprintln!("skipped: no chromedriver on this machine (.ci/run installs it)");
        return;
    };
    let wb = start_workbench();
    let shown = |v: &serde_json::Value| format!("{:.1}%", 100.0 * v.as_f64().unwrap());
    // load: the default bands' precision appears
    browser.go(&format!("http://{}/", wb.addr));
    let (_, plain) = http(&wb.addr, "POST", "/api/evaluate", "{}");
    let plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    let before = shown(&plain["baseline"]["in_sample"]["precision"]);
    browser.wait_for("[data-precision=current]", |t| t == before);
    // change an item's points in the page: I01 from 15 to 30
    browser.type_into("input[data-item=\"I01\"]", "30");
    let after = browser.wait_for("[data-precision=current]", |t| !t.is_empty() && t != before);
    // save it as a new model from the page
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("i01.toml");
    browser.type_into("#save-path", &saved.display().to_string());
    browser.click("#save");
    browser.wait_for("#saved", |t| t.contains("i01.thresholds.toml"));
    // the figure is what hhrisk calibrate gives for the saved model
    let command = calibrated_on_samples(&saved, &dir.path().join("calibration"));
    assert_eq!(after, shown(&command["baseline"]["in_sample"]["precision"]));
    assert_eq!(browser.text("[data-precision=fitted]"), shown(&command["in_sample"]["precision"]));
    // the table by household size: the alerts of the fitted bands per size
    // group, as calibration.json has them
    for g in command["by_household_size"].as_array().unwrap() {
        let row = browser.text(&format!("tr[data-size=\"{}\"]", g["group"].as_str().unwrap()));
        assert!(row.contains(&g["alerts"].to_string()), "{row} against {g}");
        assert!(row.contains(&shown(&g["alert_rate"])), "{row} against {g}");
    }
    // re-loaded from the saved file, the page shows the same without edits
    let reloaded = start_workbench_on(&saved);
    browser.go(&format!("http://{}/", reloaded.addr));
    browser.wait_for("[data-precision=current]", |t| t == after);
    let i01 = browser.call("POST", "/execute/sync", serde_json::json!({"script": "return document.querySelector('input[data-item=\"I01\"]').value", "args": []}));
    assert_eq!(i01, "30");
}

#[test]
fn the_workbench_shows_who_enters_the_bands_and_the_tuned_suggestion() {
    let wb = start_workbench();
    let (_, before) = http(&wb.addr, "POST", "/api/evaluate", "{}");
    let (_, after) = http(&wb.addr, "POST", "/api/evaluate", r#"{"points": {"I01": 30}}"#);
    let (before, after): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&before).unwrap(), serde_json::from_str(&after).unwrap());
    let count = |k: &str| after["changes"][k].as_array().unwrap().len() as i64;
    assert!(count("entered") > 0);
    assert_eq!(before["changes"]["entered"].as_array().unwrap().len(), 0, "no edit, no change");
    // alerts after − alerts before = entered − left
    let alerts = |v: &serde_json::Value| v["baseline"]["in_sample"]["alerts"].as_i64().unwrap();
    assert_eq!(alerts(&after) - alerts(&before), count("entered") - count("left"));
    // the chart ends where every household is alerted: recall 1
    let points = after["chart"]["points"].as_array().unwrap();
    assert_eq!(points.last().unwrap()["recall"], 1.0);

    // the suggestion is what calibrate --tune suggests
    let dir = tempfile::tempdir().unwrap();
    hhrisk()
        .args(["calibrate", "--tune", "--replicates", "20", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success();
    let tuned: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("calibration.json")).unwrap()).unwrap();
    let (_, m) = http(&wb.addr, "GET", "/api/model", "");
    let m: serde_json::Value = serde_json::from_str(&m).unwrap();
    for (item, suggestion) in
        m["items"].as_array().unwrap().iter().zip(tuned["tuned"]["points"].as_array().unwrap())
    {
        assert_eq!(item["id"], suggestion["item"]);
        assert_eq!(item["suggested"], suggestion["suggested"]);
    }
}

/// What `hhrisk calibrate` (100 bootstrap replicates) writes to
/// calibration.json for `model` on the bundled sample villages.
fn calibrated_on_samples(model: &Path, out: &Path) -> serde_json::Value {
    hhrisk()
        .args(["calibrate", "--replicates", "100", "--model"])
        .arg(model)
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap()).unwrap()
}
