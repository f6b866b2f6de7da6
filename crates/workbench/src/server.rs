//! The local web server: the page, and a small JSON API.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /` | | the page (HTML, no external scripts or fonts) |
//! | `GET /api/model` | | categories, items with points and conditions, bands |
//! | `POST /api/evaluate` | [`Edits`] | the calibration of the edited model, as `hhrisk calibrate` writes it |
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
    /// The sample villages with outcomes, scored by it.
    pub samples: Samples,
    /// The calibration objective.
    pub objective: Objective,
    /// Bootstrap replicates per evaluation.
    pub replicates: usize,
}

/// The page.
pub const PAGE: &str = include_str!("page.html");

/// The routes, for serving or testing.
pub fn router(workbench: Arc<Workbench>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/model", get(model))
        .route("/api/evaluate", post(evaluate_edits))
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
    match apply(&w.model, &edits) {
        Ok(model) => Json(evaluate(&model, &w.samples, w.objective, w.replicates)).into_response(),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": e.to_string() }))).into_response(),
    }
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
