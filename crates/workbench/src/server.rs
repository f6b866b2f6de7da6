//! The local web server: the page, and a small JSON API.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /` | | the page (HTML, no external scripts or fonts) |
//! | `GET /api/model` | | categories, items with points and conditions, bands |
//! | `POST /api/evaluate` | [`Edits`] | the calibration of the edited model, as `hhrisk calibrate` writes it |
//! | `POST /api/save` | `{"path": "new.toml", "edits": Edits, "overwrite": false}` | writes the edited model and `new.thresholds.toml` beside it; 409 if a file would be overwritten |
//!
//! A request whose `Host` is not the server's own address (a page elsewhere
//! reaching it through DNS rebinding), or whose `Origin` is another site's,
//! gets 403; so does an API request without the token when the workbench
//! serves the network (`--allow-remote`). A `POST` without `Content-Type:
//! application/json` gets 415, a body that is not JSON 400, JSON that does
//! not fit 422, edits that cannot apply (an unknown item, bands out of
//! order) 422, a save path that is not a plain `name.toml` 422, a body over
//! 2 MB 413, two `Host` or `Origin` headers 400; each with a message. Models are saved only into one folder: the model's own, or the
//! one given (`--save-dir`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hhrisk_calibrate::{Objective, Samples};
use hhrisk_model::Model;
use serde_json::json;

use crate::edit::{apply, evaluate, Edits};

/// What the server works on.
pub struct Workbench {
    /// The model as loaded.
    pub model: Model,
    /// Its file, which saving never overwrites unless asked.
    pub model_path: std::path::PathBuf,
    /// Its text, into which edits are written when saving.
    pub model_text: String,
    /// The sample villages with outcomes, scored by it.
    pub samples: Samples,
    /// The calibration objective.
    pub objective: Objective,
    /// Bootstrap replicates per evaluation.
    pub replicates: usize,
    /// Points suggested by `hhrisk calibrate --tune` for the model as
    /// loaded, by item id.
    pub suggested: std::collections::BTreeMap<String, f64>,
    /// Points `hhrisk fit` gives (a class-weighted, penalised logistic
    /// regression, integer points), by item id.
    pub fitted_points: std::collections::BTreeMap<String, f64>,
    /// The one folder models are saved into.
    pub save_dir: std::path::PathBuf,
    /// Each sample household's household types (the model's `[[groups]]`).
    pub types: Vec<Vec<usize>>,
}

impl Workbench {
    /// A workbench on a model and its samples; computes the tuned
    /// suggestion and the fitted points once.
    pub fn new(
        model: Model,
        model_path: std::path::PathBuf,
        model_text: String,
        samples: Samples,
        objective: Objective,
        replicates: usize,
    ) -> Self {
        let mut options = hhrisk_calibrate::Options::new(&model, objective);
        options.replicates = 20;
        options.tune = Some(hhrisk_calibrate::tune::TuneOptions::default());
        let suggested = hhrisk_calibrate::calibrate(&model, &samples, &options)
            .tuned
            .map(|t| t.points.into_iter().map(|p| (p.item, p.suggested)).collect())
            .unwrap_or_default();
        // what `hhrisk fit` suggests, with its default options (a model
        // that cannot be fitted, one class only, gets none)
        let fit = hhrisk_calibrate::scorecard::FitOptions { replicates: 20, ..Default::default() };
        let fitted_points = hhrisk_calibrate::scorecard::fit_points(&model, &samples, &fit, &options)
            .map(|card| {
                card.items.into_iter().filter(|i| i.constraint != "off").map(|i| (i.item, i.points)).collect()
            })
            .unwrap_or_default();
        let save_dir = match model_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let types = crate::edit::household_types(&model, &samples);
        Workbench {
            model,
            model_path,
            model_text,
            samples,
            objective,
            replicates,
            suggested,
            fitted_points,
            save_dir,
            types,
        }
    }
}

/// The page.
pub const PAGE: &str = include_str!("page.html");

/// Who may use the server: the `Host` values that name it, the origins of
/// its own page, and the token required when it serves the network.
#[derive(Debug, Clone)]
pub struct Access {
    /// `Host` header values accepted (`127.0.0.1:PORT`, `localhost:PORT`…).
    pub hosts: Vec<String>,
    /// The token, when one is required (`--allow-remote`).
    pub token: Option<String>,
}

impl Access {
    /// The hosts that name a server bound to `bound` (`bind` the address
    /// asked for): its address and port, and `localhost` and the loopback
    /// addresses for a loopback server.
    pub fn for_address(bound: SocketAddr, token: Option<String>) -> Access {
        let port = bound.port();
        let mut hosts = vec![bound.to_string()];
        if bound.ip().is_loopback() || bound.ip().is_unspecified() {
            hosts.extend([format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")]);
        }
        hosts.dedup();
        Access { hosts, token }
    }
}

/// Most bytes a request's body may hold (edits are a few kilobytes).
const BODY_LIMIT: usize = 2 << 20;

/// The cookie that carries the token once the URL with it was opened.
const COOKIE: &str = "hhrisk_token";

/// Whether two texts are equal, in time that does not depend on where
/// they differ (a token compared byte by byte would tell an attacker how
/// much of a guess was right).
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses requests from anywhere but the server's own page.
async fn guard(
    State(access): State<Arc<Access>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::header;
    // what the request says, owned, before it is passed on
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let host = text(header::HOST.as_str()).unwrap_or_default();
    let origin = text(header::ORIGIN.as_str());
    let cookie = text(header::COOKIE.as_str()).and_then(|c| {
        c.split(';')
            .filter_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
            .next()
            .map(str::to_string)
    });
    let query = request
        .uri()
        .query()
        .and_then(|q| q.split('&').filter_map(|kv| kv.strip_prefix("token=")).next().map(str::to_string));
    let given = text("x-hhrisk-token").or(cookie).or(query);
    // one Host and at most one Origin: with two, which one counts would
    // depend on who reads them
    for name in [header::HOST, header::ORIGIN] {
        if headers.get_all(&name).iter().count() > 1 {
            return problem(StatusCode::BAD_REQUEST, format!("a request has at most one {name} header"));
        }
    }
    // a body announced past the limit is refused at once, not waited for
    let length = text(header::CONTENT_LENGTH.as_str()).and_then(|l| l.trim().parse::<u64>().ok());
    if let Some(length) = length.filter(|&l| l > BODY_LIMIT as u64) {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request's body is {length} bytes, more than the {BODY_LIMIT} accepted"),
        );
    }
    // a URL naming a server (`GET http://host/…`) names it instead of Host
    let host = request.uri().authority().map_or(host, |a| a.as_str().to_string());
    if !access.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return problem(
            StatusCode::FORBIDDEN,
            format!("Host {host:?} is not this workbench ({}); open it at its own address", access.hosts[0]),
        );
    }
    if let Some(origin) = origin {
        let own = access.hosts.iter().any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
        if !own {
            return problem(StatusCode::FORBIDDEN, format!("requests from {origin} are not accepted"));
        }
    }
    let Some(token) = &access.token else { return next.run(request).await };
    match given {
        Some(t) if same_secret(&t, token) => {
            let mut response = next.run(request).await;
            // opening the URL with the token sets the cookie the page's
            // requests then carry
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
            if let Ok(value) = axum::http::HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        _ => problem(
            StatusCode::FORBIDDEN,
            "this workbench serves the network and needs its token: open the URL it printed at start".into(),
        ),
    }
}

/// The routes, for serving or testing.
pub fn router(workbench: Arc<Workbench>, access: Access) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/model", get(model))
        .route("/api/evaluate", post(evaluate_edits))
        .route("/api/save", post(save))
        .with_state(workbench)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(Arc::new(access), guard))
}

async fn model(State(w): State<Arc<Workbench>>) -> Json<serde_json::Value> {
    let m = &w.model;
    Json(json!({
        "name": m.meta.name,
        "version": m.meta.version,
        "categories": m.categories.iter().map(|c| json!({"id": c.id, "name": c.name, "name_en": c.name_en, "weight": c.weight})).collect::<Vec<_>>(),
        "items": m.items.iter().map(|i| json!({
            "id": i.id,
            "category": m.categories[i.category].id,
            "name": i.name,
            "name_en": i.name_en,
            "when": i.when,
            "points": i.points,
            "suggested": w.suggested.get(&i.id),
            "fitted": w.fitted_points.get(&i.id),
            "trigger": i.trigger,
        })).collect::<Vec<_>>(),
        "bands": m.bands.levels.iter().map(|b| json!({"level": b.name, "label": b.label, "label_en": b.label_en, "min_score": b.min})).collect::<Vec<_>>(),
        "name_en": m.meta.name_en,
        "villages": w.samples.villages,
        "save_dir": w.save_dir.display().to_string(),
        "xiaochang": hhrisk_calibrate::evaluation::from_counts(687, 404),
        "households": w.samples.len(),
    }))
}

async fn evaluate_edits(
    State(w): State<Arc<Workbench>>,
    body: Result<Json<Edits>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(edits) = match body {
        Ok(b) => b,
        Err(rejection) => {
            return (rejection.status(), Json(json!({ "error": rejection.body_text() }))).into_response()
        }
    };
    let model = match apply(&w.model, &edits) {
        Ok(model) => model,
        Err(e) => {
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": e.to_string() })))
                .into_response()
        }
    };
    let calibration = evaluate(&model, &w.samples, w.objective, w.replicates);
    let mut body = serde_json::to_value(&calibration).unwrap_or_default();
    body["changes"] = crate::edit::changes(&w.model, &model, &w.samples);
    body["chart"] = crate::edit::chart(&calibration);
    body["by_household_type"] = crate::edit::by_household_type(&model, &w.samples, &calibration, &w.types);
    Json(body).into_response()
}

/// A request to save the edited model.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Save {
    path: String,
    #[serde(default)]
    edits: Edits,
    #[serde(default)]
    overwrite: bool,
}

fn problem(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn save(
    State(w): State<Arc<Workbench>>,
    body: Result<Json<Save>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(b) => b,
        Err(rejection) => return problem(rejection.status(), rejection.body_text()),
    };
    let model = match apply(&w.model, &request.edits) {
        Ok(m) => m,
        Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let target = match save_path(&w.save_dir, &request.path) {
        Ok(target) => target,
        Err(message) => return problem(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    let thresholds = target.with_extension("thresholds.toml");
    for path in [&target, &thresholds] {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{} is a symbolic link; choose another name", path.display()),
            );
        }
    }
    let same = |a: &std::path::Path, b: &std::path::Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !request.overwrite {
        if same(&target, &w.model_path) {
            return problem(StatusCode::CONFLICT, format!("{} is the model the workbench was opened with; save under another name, or ask to overwrite it", request.path));
        }
        for path in [&target, &thresholds] {
            if path.exists() {
                return problem(
                    StatusCode::CONFLICT,
                    format!("{} exists; choose another name, or ask to overwrite it", path.display()),
                );
            }
        }
    }
    let rewrite = hhrisk_model::Rewrite {
        points: model.items.iter().map(|i| (i.id.clone(), i.points)).collect(),
        weights: model
            .categories
            .iter()
            .map(|c| (c.id.clone(), c.weight))
            .filter(|(id, wt)| w.model.categories.iter().any(|c| c.id == *id && c.weight != *wt))
            .collect(),
        band_mins: model.bands.levels.iter().map(|b| (b.name.clone(), b.min)).collect(),
        untrigger: request.edits.off.clone(),
        ..hhrisk_model::Rewrite::default()
    };
    let text = match hhrisk_model::rewrite_model(&w.model_text, &w.model_path.display().to_string(), &rewrite)
    {
        Ok(t) => format!("# Edited in the hhrisk workbench from {}\n{t}", w.model_path.display()),
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut bands = String::from("# Bands set in the hhrisk workbench\n[bands]\n");
    if let Some(t) = model.bands.trigger {
        bands.push_str(&format!("trigger = {:?}\n", model.bands.levels[t].name));
    }
    for b in &model.bands.levels {
        bands.push_str(&format!("\n[[bands.levels]]\nname = {:?}\nmin = {:?}\n", b.name, b.min));
    }
    for (path, content) in [(&target, text), (&thresholds, bands)] {
        let written = hhrisk_tables::AtomicFile::create(path).and_then(|mut f| {
            std::io::Write::write_all(&mut f, content.as_bytes())?;
            f.commit()
        });
        if let Err(e) = written {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot write {}: {e}", path.display()),
            );
        }
    }
    Json(json!({ "model": target, "thresholds": thresholds })).into_response()
}

/// Where a model named `name` is saved: in `dir`, when `name` is a plain
/// `name.toml` (no folder, no `..`, not hidden, no control characters).
fn save_path(dir: &std::path::Path, name: &str) -> Result<std::path::PathBuf, String> {
    let plain = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control)
        && name.strip_suffix(".toml").is_some_and(|stem| !stem.is_empty());
    if !plain {
        return Err(format!(
            "{name:?}: give a plain file name ending in .toml, such as edited.toml; models are saved in {}",
            dir.display()
        ));
    }
    Ok(dir.join(name))
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Asked to listen beyond this machine without saying so.
    #[error(
        "{0} is not a loopback address: the workbench serves 127.0.0.1 only, unless --allow-remote is given"
    )]
    NotLoopback(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// Binds the address (loopback only unless `allow_remote`) and serves
/// until the process ends, requiring `token` on every request when one is
/// given; `ready` is told the address bound.
pub fn serve(
    workbench: Workbench,
    addr: SocketAddr,
    allow_remote: bool,
    token: Option<String>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(ServeError::NotLoopback(addr));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| ServeError::Bind(addr, e))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| ServeError::Bind(addr, e))?;
        let bound = listener.local_addr().map_err(|e| ServeError::Bind(addr, e))?;
        ready(bound);
        let access = Access::for_address(bound, token);
        axum::serve(listener, router(Arc::new(workbench), access))
            .await
            .map_err(|e| ServeError::Bind(bound, e))
    })
}
