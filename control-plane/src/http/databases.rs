//! Tenant databases: create (answers at once, state `provisioning`), list, get, change plan, pause,
//! resume, reset the password, delete. Another organisation's database is a 404, never a 403.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{ValidJson, Validate};
use crate::auth::Principal;
use crate::error::{Error, ErrorBody, FieldError, Result};
use crate::fleet::{desired, state as st};
use crate::plans::Plan;
use crate::state::AppState;
use crate::store::{self, databases::Database, now_ms, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(reset_password))
        .routes(routes!(metrics))
}

/// The owner role every database is created with.
const DB_USER: &str = "owner";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDatabase {
    /// A DNS label: 1 to 63 lower-case letters, digits and hyphens, starting with a letter.
    #[schema(example = "orders", pattern = "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    pub plan: Plan,
}

impl Validate for CreateDatabase {
    fn validate(&self) -> Vec<FieldError> {
        check_name(&self.name).into_iter().collect()
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDatabase {
    pub plan: Plan,
}

impl Validate for UpdateDatabase {
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseView {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// provisioning, ready, updating, pausing, paused, resuming, deleting or failed.
    #[schema(example = "ready")]
    pub state: String,
    /// Why the database is `failed`.
    pub state_reason: Option<String>,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// Without the password, which is only shown when created or reset.
    pub connection_string: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseList {
    pub databases: Vec<DatabaseView>,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseWithPassword {
    pub database: DatabaseView,
    /// Shown once: store it now. A lost password can only be reset.
    pub password: String,
    /// The connection string with the password, ready for `psql`.
    pub connection_string: String,
}

/// `tls`: the connection strings' TLS parameters (the provisioner's `connection_tls`).
fn view(db: &Database, tls: &str) -> Result<DatabaseView> {
    let plan = Plan::parse(&db.plan)
        .ok_or_else(|| Error::Internal(format!("database {} has plan {:?}", db.id, db.plan)))?;
    let port = u16::try_from(db.port).unwrap_or(0);
    Ok(DatabaseView {
        id: db.id.clone(),
        name: db.name.clone(),
        plan,
        state: db.state.clone(),
        state_reason: db.state_reason.clone(),
        host: db.host.clone(),
        port,
        database: db.name.clone(),
        user: db.db_user.clone(),
        connection_string: format!(
            "postgresql://{}@{}:{}/{}?{tls}",
            db.db_user, db.host, port, db.name
        ),
        created_at: rfc3339(db.created_at),
        updated_at: rfc3339(db.updated_at),
    })
}

fn with_password(db: &Database, password: String, tls: &str) -> Result<DatabaseWithPassword> {
    let v = view(db, tls)?;
    Ok(DatabaseWithPassword {
        connection_string: format!(
            "postgresql://{}:{}@{}:{}/{}?{tls}",
            v.user, password, v.host, v.port, v.database
        ),
        database: v,
        password,
    })
}

fn tls(state: &AppState) -> String {
    state.fleet.provisioner().connection_tls()
}

/// DNS label rules, so a name works as a Kubernetes object name and a host label on every provisioner.
fn check_name(name: &str) -> Option<FieldError> {
    let msg = if name.is_empty() {
        "must not be empty"
    } else if name.len() > 63 {
        "must be at most 63 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        "may contain only lower-case letters, digits and hyphens"
    } else if !name.as_bytes()[0].is_ascii_lowercase() {
        "must start with a lower-case letter"
    } else if name.ends_with('-') {
        "must not end with a hyphen"
    } else {
        return None;
    };
    Some(FieldError::new("name", msg))
}

async fn check_quota(state: &AppState, org_id: &str, plan: Plan) -> Result<()> {
    let max = state.config.plans.limits(plan).max_databases;
    let have = store::databases::count_by_plan(&state.pool, org_id, plan.as_str()).await?;
    if have >= i64::from(max) {
        return Err(Error::QuotaExceeded(format!(
            "the {} plan allows {max} databases per organisation; delete one or choose another plan",
            plan.as_str()
        )));
    }
    Ok(())
}

async fn scram_of(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        omendb_server::scram::Verifier::new(&password, omendb_server::scram::DEFAULT_ITERATIONS)
            .to_string()
    })
    .await
    .map_err(|e| Error::Internal(format!("hashing task: {e}")))
}

async fn audit(
    state: &AppState,
    who: &Principal,
    action: &str,
    db: &Database,
    detail: serde_json::Value,
) -> Result<()> {
    store::audit::record(
        &state.pool,
        &who.org_id,
        &who.actor(),
        action,
        &db.id,
        &who.ip,
        detail,
    )
    .await
}

/// The organisation's databases.
#[utoipa::path(get, path = "/v1/databases", tag = "databases", security(("bearer" = [])),
    responses(
        (status = 200, description = "Databases", body = DatabaseList),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn list(State(state): State<AppState>, who: Principal) -> Result<Json<DatabaseList>> {
    let rows = store::databases::list(&state.pool, &who.org_id).await?;
    let tls = tls(&state);
    Ok(Json(DatabaseList {
        databases: rows
            .iter()
            .map(|db| view(db, &tls))
            .collect::<Result<_>>()?,
    }))
}

/// Creates a database. Answers at once with state `provisioning` and the password (shown once); poll
/// the database until it is `ready`.
#[utoipa::path(post, path = "/v1/databases", tag = "databases", security(("bearer" = [])),
    request_body = CreateDatabase,
    responses(
        (status = 201, description = "Provisioning", body = DatabaseWithPassword),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 402, description = "The plan is not paid for (billing on)", body = ErrorBody),
        (status = 403, description = "Quota reached", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    ValidJson(body): ValidJson<CreateDatabase>,
) -> Result<(StatusCode, Json<DatabaseWithPassword>)> {
    check_quota(&state, &who.org_id, body.plan).await?;
    state
        .billing
        .check_plan(&state.pool, &who.org_id, body.plan)
        .await?;
    let password = omendb_server::scram::random_password();
    let scram = scram_of(password.clone()).await?;
    let provisioner = state.fleet.provisioner();
    let now = now_ms();
    let id = store::new_id("db");
    let db = Database {
        host: provisioner.host(&id),
        id,
        org_id: who.org_id.clone(),
        name: body.name.clone(),
        plan: body.plan.as_str().into(),
        desired: desired::RUNNING.into(),
        state: st::PROVISIONING.into(),
        state_reason: None,
        db_user: DB_USER.into(),
        scram: scram.into(),
        port: i64::from(provisioner.allocate_port()?),
        created_at: now,
        updated_at: now,
        ready_at: None,
        deleted_at: None,
    };
    store::databases::insert(&state.pool, &db).await?;
    audit(
        &state,
        &who,
        "database.create",
        &db,
        serde_json::json!({"name": db.name, "plan": db.plan}),
    )
    .await?;
    state.fleet.kick(db.id.clone());
    Ok((
        StatusCode::CREATED,
        Json(with_password(&db, password, &tls(&state))?),
    ))
}

/// One database.
#[utoipa::path(get, path = "/v1/databases/{id}", tag = "databases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id")),
    responses(
        (status = 200, description = "The database", body = DatabaseView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such database in this organisation", body = ErrorBody),
    ))]
async fn get_one(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<DatabaseView>> {
    let db = store::databases::get(&state.pool, &who.org_id, &id).await?;
    Ok(Json(view(&db, &tls(&state))?))
}

/// Changes the plan; a running database restarts with the new limits (state `updating`).
#[utoipa::path(patch, path = "/v1/databases/{id}", tag = "databases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id")),
    request_body = UpdateDatabase,
    responses(
        (status = 200, description = "Updated", body = DatabaseView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 402, description = "The plan is not paid for (billing on)", body = ErrorBody),
        (status = 403, description = "Quota reached", body = ErrorBody),
        (status = 404, description = "No such database in this organisation", body = ErrorBody),
        (status = 409, description = "Being deleted", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<UpdateDatabase>,
) -> Result<Json<DatabaseView>> {
    let db = store::databases::get(&state.pool, &who.org_id, &id).await?;
    not_deleting(&db)?;
    if db.plan != body.plan.as_str() {
        check_quota(&state, &who.org_id, body.plan).await?;
        state
            .billing
            .check_plan(&state.pool, &who.org_id, body.plan)
            .await?;
        store::databases::set_plan(&state.pool, &id, body.plan.as_str()).await?;
        if db.desired == desired::RUNNING {
            store::databases::set_state(&state.pool, &id, st::UPDATING, None).await?;
            state.fleet.kick(id.clone());
        }
        audit(
            &state,
            &who,
            "database.update",
            &db,
            serde_json::json!({"from": db.plan, "plan": body.plan.as_str()}),
        )
        .await?;
    }
    let db = store::databases::get(&state.pool, &who.org_id, &id).await?;
    Ok(Json(view(&db, &tls(&state))?))
}

fn not_deleting(db: &Database) -> Result<()> {
    if db.desired == desired::DELETED {
        return Err(Error::InvalidState("the database is being deleted".into()));
    }
    Ok(())
}

/// Deletes the database and its data. Answers at once with state `deleting`.
#[utoipa::path(delete, path = "/v1/databases/{id}", tag = "databases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id")),
    responses(
        (status = 202, description = "Deleting", body = DatabaseView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such database in this organisation", body = ErrorBody),
    ))]
async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DatabaseView>)> {
    let db = store::databases::get(&state.pool, &who.org_id, &id).await?;
    if db.desired != desired::DELETED {
        store::databases::set_desired(&state.pool, &id, desired::DELETED, st::DELETING).await?;
        audit(
            &state,
            &who,
            "database.delete",
            &db,
            serde_json::json!({"name": db.name}),
        )
        .await?;
        state.fleet.kick(id.clone());
    }
    // Not re-read: the fleet may already have finished, and a deleted row is not found any more.
    let db = Database {
        desired: desired::DELETED.into(),
        state: st::DELETING.into(),
        state_reason: None,
        ..db
    };
    Ok((StatusCode::ACCEPTED, Json(view(&db, &tls(&state))?)))
}

/// Stops the database and keeps its data. Answers at once with state `pausing`.
#[utoipa::path(post, path = "/v1/databases/{id}/pause", tag = "databases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id")),
    responses(
        (status = 202, description = "Pausing", body = DatabaseView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such database in this organisation", body = ErrorBody),
        (status = 409, description = "Already paused or being deleted", body = ErrorBody),
    ))]
async fn pause(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DatabaseView>)> {
    transition(
        &state,
        &who,
        &id,
        desired::PAUSED,
        st::PAUSING,
        "database.pause",
    )
    .await
}

/// Starts a paused database again, with its data. Answers at once with state `resuming`.
#[utoipa::path(post, path = "/v1/databases/{id}/resume", tag = "databases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id")),
    responses(
        (status = 202, description = "Resuming", body = DatabaseView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 402, description = "The plan is not paid for (billing on)", body = ErrorBody),
        (status = 404, description = "No such database in this organisation", body = ErrorBody),
        (status = 409, description = "Not paused, or being deleted", body = ErrorBody),
    ))]
async fn resume(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DatabaseView>)> {
    transition(
        &state,
        &who,
        &id,
        desired::RUNNING,
        st::RESUMING,
        "database.resume",
    )
    .await
}

async fn transition(
    state: &AppState,
    who: &Principal,
    id: &str,
    want: &str,
    next: &str,
    action: &str,
) -> Result<(StatusCode, Json<DatabaseView>)> {
    let db = store::databases::get(&state.pool, &who.org_id, id).await?;
    not_deleting(&db)?;
    if db.desired == want {
        return Err(Error::InvalidState(format!(
            "the database is already {}",
            if want == desired::PAUSED {
                "paused"
            } else {
                "running"
            }
        )));
    }
    if want == desired::RUNNING {
        let plan = Plan::parse(&db.plan).unwrap_or(Plan::Free);
        state
            .billing
            .check_plan(&state.pool, &who.org_id, plan)
            .await?;
    }
    store::databases::set_desired(&state.pool, id, want, next).await?;
    // Whatever the user does now, billing no longer owns this database's pause.
    store::databases::clear_billing_pause(&state.pool, id).await?;
    audit(state, who, action, &db, serde_json::json!({})).await?;
    state.fleet.kick(id.to_string());
    let db = store::databases::get(&state.pool, &who.org_id, id).await?;
    Ok((StatusCode::ACCEPTED, Json(view(&db, &tls(state))?)))
}

/// Issues a new password (shown once); the old one stops working. A running database restarts.
#[utoipa::path(post, path = "/v1/databases/{id}/reset-password", tag = "databases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id")),
    responses(
        (status = 200, description = "New password", body = DatabaseWithPassword),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such database in this organisation", body = ErrorBody),
        (status = 409, description = "Being deleted", body = ErrorBody),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<DatabaseWithPassword>> {
    let db = store::databases::get(&state.pool, &who.org_id, &id).await?;
    not_deleting(&db)?;
    let password = omendb_server::scram::random_password();
    let scram = scram_of(password.clone()).await?;
    store::databases::set_scram(&state.pool, &id, &scram).await?;
    if db.desired == desired::RUNNING {
        store::databases::set_state(&state.pool, &id, st::UPDATING, None).await?;
        state.fleet.kick(id.clone());
    }
    audit(
        &state,
        &who,
        "database.reset_password",
        &db,
        serde_json::json!({}),
    )
    .await?;
    let db = store::databases::get(&state.pool, &who.org_id, &id).await?;
    Ok(Json(with_password(&db, password, &tls(&state))?))
}

#[derive(Serialize, ToSchema)]
pub struct MetricsView {
    /// The plan's monitoring level: `metrics` or `full` (per-table learned-index health).
    pub monitoring: crate::plans::Monitoring,
    /// When the sample was taken (unix milliseconds); rates come from two samples.
    pub at_ms: i64,
    /// Prometheus series (name with labels) to value, e.g. `omendb_queries_total{kind="select",outcome="ok"}`.
    /// Histogram buckets are left out; their `_sum` and `_count` are in.
    pub series: std::collections::BTreeMap<String, f64>,
}

/// Prometheus text to series -> value, without comments, histogram buckets and non-finite values.
fn parse_prometheus(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket{"))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let v: f64 = value.parse().ok()?;
            v.is_finite().then(|| (series.to_string(), v))
        })
        .collect()
}

/// A sample of the database's own metrics (plans with monitoring), for the console's charts.
#[utoipa::path(get, path = "/v1/databases/{id}/metrics", tag = "databases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id")),
    responses(
        (status = 200, description = "A sample", body = MetricsView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such database in this organisation", body = ErrorBody),
        (status = 409, description = "Monitoring is off for the plan, or the database is not running", body = ErrorBody),
    ))]
async fn metrics(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MetricsView>> {
    let db = store::databases::get(&state.pool, &who.org_id, &id).await?;
    let plan = Plan::parse(&db.plan)
        .ok_or_else(|| Error::Internal(format!("database {} has plan {:?}", db.id, db.plan)))?;
    let monitoring = state.config.plans.limits(plan).monitoring;
    if monitoring == crate::plans::Monitoring::None {
        return Err(Error::InvalidState(format!(
            "monitoring is off on the {} plan; change the plan to see metrics",
            plan.as_str()
        )));
    }
    let text = match state.fleet.provisioner().metrics(&id).await? {
        Some(t) if db.state == st::READY => t,
        _ => return Err(Error::InvalidState("the database is not running".into())),
    };
    Ok(Json(MetricsView {
        monitoring,
        at_ms: now_ms(),
        series: parse_prometheus(&text),
    }))
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn prometheus_text_becomes_series_without_buckets() {
        let m = super::parse_prometheus(
            "# HELP x y\n# TYPE x counter\nomendb_queries_total{kind=\"select\",outcome=\"ok\"} 12\n\
             omendb_query_duration_seconds_bucket{kind=\"select\",le=\"0.1\"} 3\n\
             omendb_query_duration_seconds_sum{kind=\"select\"} 0.5\nomendb_connections 2\nbad NaN\n",
        );
        assert_eq!(m.len(), 3);
        assert_eq!(
            m["omendb_queries_total{kind=\"select\",outcome=\"ok\"}"],
            12.0
        );
        assert_eq!(m["omendb_connections"], 2.0);
    }

    #[test]
    fn names_follow_dns_label_rules() {
        for ok in ["a", "orders", "orders-2026", "a1", &"a".repeat(63)] {
            assert!(check_name(ok).is_none(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "-abc",
            "abc-",
            "Abc",
            "a_b",
            "a.b",
            "a b",
            "x'; drop table databases; --",
            &"a".repeat(64),
            "ünï",
        ] {
            assert!(check_name(bad).is_some(), "{bad}");
        }
    }
}
