//! The local web server: the page, and a small JSON API.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /` | | the page (HTML, no external scripts or fonts) |
//! | `GET /api/model` | | categories, items with points and conditions, bands |
//! | `POST /api/evaluate` | [`Edits`] | the calibration of the edited model, as `hhrisk calibrate` writes it |
//! | `POST /api/save` | `{"path": "new.toml", "edits": Edits, "overwrite": false}` | writes the edited model and `new.thresholds.toml` beside it; 409 if a file would be overwritten |
//!
//! A body that is not JSON gets 400, JSON that does not fit gets 422, edits
//! that cannot apply (an unknown item, bands out of order) get 422; each
//! with a message.

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
}

impl Workbench {
    /// A workbench on a model and its samples; computes the tuned
    /// suggestion once.
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
        Workbench { model, model_path, model_text, samples, objective, replicates, suggested }
    }
}

/// The page.
pub const PAGE: &str = include_str!("page.html");

/// The routes, for serving or testing.
pub fn router(workbench: Arc<Workbench>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/model", get(model))
        .route("/api/evaluate", post(evaluate_edits))
        .route("/api/save", post(save))
        .with_state(workbench)
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
            "trigger": i.trigger,
        })).collect::<Vec<_>>(),
        "bands": m.bands.levels.iter().map(|b| json!({"level": b.name, "label": b.label, "min_score": b.min})).collect::<Vec<_>>(),
        "villages": w.samples.villages,
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
    let target = std::path::PathBuf::from(&request.path);
    if target.extension().is_none_or(|e| e != "toml") {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, "save the model as a .toml file".into());
    }
    let thresholds = target.with_extension("thresholds.toml");
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
/// until the process ends; `ready` is told the address bound.
pub fn serve(
    workbench: Workbench,
    addr: SocketAddr,
    allow_remote: bool,
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
        axum::serve(listener, router(Arc::new(workbench))).await.map_err(|e| ServeError::Bind(bound, e))
    })
}
