//! The HTTP surface: Billit's `/v1/…` API and the `/_sandbox/…` control API.

use crate::SandboxConfig;
use crate::store::{ApiFailure, Faults, PartyAccount, Store, parse_body};
use crate::webhooks::dispatch;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use portal_billit::wire::{AccountInformation, Company, ParticipantInformation};
use rand::Rng as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// State shared by the handlers, the ticker and the webhook senders.
pub struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) config: SandboxConfig,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) http: reqwest::Client,
    /// One save at a time: two concurrent saves would share the temporary file, and an older state could be
    /// renamed over a newer one.
    pub(crate) saving: Mutex<()>,
}

impl Shared {
    /// The store (a poisoned lock is taken over: the store stays consistent per operation).
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the state file, when there is one.
    pub fn persist(&self) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let _one_at_a_time = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = match serde_json::to_vec_pretty(&*self.lock()) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "cannot serialise the sandbox state");
                return;
            }
        };
        let tmp = path.with_extension("tmp");
        if let Err(error) = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)) {
            tracing::warn!(%error, path = %path.display(), "cannot save the sandbox state");
        }
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.description)
    }
}

impl ResponseError for ApiFailure {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(after) = self.retry_after {
            response.insert_header((RETRY_AFTER, after.to_string()));
        }
        response.json(self.body())
    }
}

type Answer = Result<HttpResponse, ApiFailure>;
type Data = web::Data<Arc<Shared>>;

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Faults (latency, 429, 500) then authentication: the start of every `/v1` call.
async fn begin(req: &HttpRequest, shared: &Shared) -> Result<i64, ApiFailure> {
    let (faults, call) = {
        let mut store = shared.lock();
        store.api_calls += 1;
        (store.faults.clone(), store.api_calls)
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.rate_limit_every > 0 && call % faults.rate_limit_every == 0 {
        let mut failure =
            ApiFailure::new(429, "TooManyRequests", "Rate limit exceeded, retry later");
        failure.retry_after = Some(1);
        return Err(failure);
    }
    if faults.error_rate > 0.0 && rand::rng().random::<f64>() < faults.error_rate {
        return Err(ApiFailure::new(
            500,
            "InternalServerError",
            "An unexpected error occurred",
        ));
    }
    shared.lock().authenticate(
        header(req, "ApiKey"),
        header(req, "PartyID"),
        header(req, "ContextPartyID"),
    )
}

/// Reads a body with the size limit, answering 413 Billit-style when over.
async fn body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiFailure> {
    let too_large = || {
        ApiFailure::new(
            413,
            "RequestEntityTooLarge",
            format!("The body exceeds {limit} bytes"),
        )
    };
    if header(req, CONTENT_LENGTH.as_str())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiFailure::bad("InvalidBody", "The body could not be read")),
        Err(_) => Err(too_large()),
    }
}

fn id_of(text: &str, what: &str) -> Result<i64, ApiFailure> {
    text.trim().parse().map_err(|_| ApiFailure::not_found(what))
}

fn order_json(order: &portal_billit::wire::Order) -> Value {
    crate::json::strip_nulls(serde_json::to_value(order).unwrap_or(Value::Null))
}

fn finish(shared: &Arc<Shared>, changes: Vec<crate::store::Change>) {
    dispatch(shared, changes);
    shared.persist();
}

async fn create_order(req: HttpRequest, payload: web::Payload, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let raw = body(&req, payload, shared.config.max_body_bytes).await?;
    let key = header(&req, "Idempotency-Key").map(str::to_owned);
    let id = shared.lock().create_order(party, &raw, key.as_deref())?;
    finish(&shared, Vec::new());
    // Billit answers a bare integer, the new order's id.
    Ok(HttpResponse::Ok().json(id))
}

async fn get_order(req: HttpRequest, path: web::Path<String>, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let order = shared.lock().order(party, id_of(&path, "Order")?)?;
    Ok(HttpResponse::Ok().json(order_json(&order)))
}

async fn list_orders(req: HttpRequest, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map_err(|_| ApiFailure::bad("InvalidQuery", "The query string is not valid"))?;
    let number = |name: &str, default: usize| -> Result<usize, ApiFailure> {
        match query.get(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<usize>()
                .map_err(|_| ApiFailure::bad("InvalidQuery", format!("{name} must be a number"))),
        }
    };
    let top = number("$top", 120)?;
    if top == 0 || top > 1000 {
        return Err(ApiFailure::bad(
            "InvalidQuery",
            "$top must be between 1 and 1000",
        ));
    }
    let skip = number("$skip", 0)?;
    let filter = query.get("$filter").cloned();
    let page = shared.lock().list(party, filter.as_deref(), top, skip)?;
    let next = if page.more {
        let info = req.connection_info();
        let mut url =
            reqwest::Url::parse(&format!("{}://{}/v1/orders", info.scheme(), info.host()))
                .map_err(|_| ApiFailure::new(500, "InternalServerError", "bad host"))?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(filter) = &filter {
                pairs.append_pair("$filter", filter);
            }
            pairs.append_pair("$top", &top.to_string());
            pairs.append_pair("$skip", &(skip + top).to_string());
        }
        Some(url.to_string())
    } else {
        None
    };
    let items: Vec<Value> = page.items.iter().map(order_json).collect();
    let mut answer = json!({"Items": items});
    if let (Some(next), Some(map)) = (next, answer.as_object_mut()) {
        map.insert("NextPageLink".to_owned(), Value::String(next));
    }
    Ok(HttpResponse::Ok().json(answer))
}

async fn send_orders(req: HttpRequest, payload: web::Payload, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let raw = body(&req, payload, shared.config.max_body_bytes).await?;
    let strict = header(&req, "StrictTransportType")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    let changes = shared
        .lock()
        .send(party, &raw, shared.config.step_ms, strict)?;
    finish(&shared, changes);
    Ok(HttpResponse::Ok().finish())
}

async fn patch_order(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    shared: Data,
) -> Answer {
    let party = begin(&req, &shared).await?;
    let raw = body(&req, payload, shared.config.max_body_bytes).await?;
    let changes =
        shared
            .lock()
            .patch(party, id_of(&path, "Order")?, &raw, shared.config.step_ms)?;
    finish(&shared, changes);
    Ok(HttpResponse::Ok().finish())
}

async fn delete_order(req: HttpRequest, path: web::Path<String>, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    shared.lock().delete_order(party, id_of(&path, "Order")?)?;
    finish(&shared, Vec::new());
    Ok(HttpResponse::Ok().finish())
}

async fn post_payment(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    shared: Data,
) -> Answer {
    let party = begin(&req, &shared).await?;
    let raw = body(&req, payload, shared.config.max_body_bytes).await?;
    let key = header(&req, "Idempotency-Key").map(str::to_owned);
    let changes = shared.lock().pay(
        party,
        id_of(&path, "Order")?,
        &raw,
        key.as_deref(),
        shared.config.step_ms,
    )?;
    finish(&shared, changes);
    Ok(HttpResponse::Ok().finish())
}

async fn get_file(req: HttpRequest, path: web::Path<String>, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let file = shared.lock().file(party, &path)?;
    Ok(HttpResponse::Ok().json(file))
}

fn webhook_json(webhook: &crate::store::StoredWebhook, with_secret: bool) -> Value {
    let mut value = json!({
        "WebhookID": webhook.id,
        "EntityType": webhook.entity_type,
        "EntityUpdateType": webhook.update_type,
        "WebhookURL": webhook.url,
    });
    if let (true, Some(map)) = (with_secret, value.as_object_mut()) {
        map.insert("Secret".to_owned(), Value::String(webhook.secret.clone()));
    }
    value
}

async fn create_webhook(req: HttpRequest, payload: web::Payload, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let raw = body(&req, payload, shared.config.max_body_bytes).await?;
    let webhook = shared.lock().create_webhook(party, &raw)?;
    shared.persist();
    Ok(HttpResponse::Ok().json(webhook_json(&webhook, true)))
}

async fn list_webhooks(req: HttpRequest, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let items: Vec<Value> = shared
        .lock()
        .webhooks
        .values()
        .filter(|w| w.party_id == party)
        .map(|w| webhook_json(w, false))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"Items": items})))
}

async fn delete_webhook(req: HttpRequest, path: web::Path<String>, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    shared
        .lock()
        .delete_webhook(party, id_of(&path, "Webhook")?)?;
    shared.persist();
    Ok(HttpResponse::Ok().finish())
}

async fn refresh_webhook(req: HttpRequest, path: web::Path<String>, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let webhook = shared
        .lock()
        .refresh_webhook(party, id_of(&path, "Webhook")?)?;
    shared.persist();
    Ok(HttpResponse::Ok().json(webhook_json(&webhook, true)))
}

/// The user behind the key and the companies it opens: the one acted for first (the `ContextPartyID`'s, else the
/// `PartyID`'s), then every other company provisioned with the same `ApiKey` (an accountant's), by PartyID.
async fn account_information(req: HttpRequest, shared: Data) -> Answer {
    let party = begin(&req, &shared).await?;
    let (account, others) = {
        let store = shared.lock();
        let account = store
            .parties
            .get(&party)
            .cloned()
            .ok_or_else(|| ApiFailure::new(401, "Unauthorized", "Unknown party"))?;
        let others: Vec<PartyAccount> = store
            .parties
            .values()
            .filter(|other| other.party_id != party && other.api_key == account.api_key)
            .cloned()
            .collect();
        (account, others)
    };
    let company = |account: &PartyAccount| Company {
        party_id: Some(account.party_id),
        name: Some(account.name.clone()),
        vat_number: Some(account.vat_number.clone()),
        extra: Default::default(),
    };
    let info = AccountInformation {
        email: Some(
            account
                .email
                .clone()
                .unwrap_or_else(|| format!("party{}@sandbox.invalid", account.party_id)),
        ),
        first_name: Some("Sandbox".to_owned()),
        last_name: Some("User".to_owned()),
        companies: Some(
            std::iter::once(&account)
                .chain(&others)
                .map(company)
                .collect(),
        ),
        extra: Default::default(),
    };
    Ok(HttpResponse::Ok().json(info))
}

async fn participant(req: HttpRequest, path: web::Path<String>, shared: Data) -> Answer {
    begin(&req, &shared).await?;
    let identifier = path.into_inner();
    *shared
        .lock()
        .participant_lookups
        .entry(identifier.clone())
        .or_default() += 1;
    let registered = crate::store::is_registered(&identifier);
    let info = ParticipantInformation {
        registered: Some(registered),
        identifier: Some(identifier.clone()),
        document_types: registered.then(|| {
            vec![
                json!("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"),
                json!("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote"),
            ]
        }),
        extra: Default::default(),
    };
    Ok(HttpResponse::Ok().json(info))
}

async fn not_found() -> Answer {
    Err(ApiFailure::not_found("Resource"))
}

// ---- control API ----

fn loopback_only(req: &HttpRequest) -> Result<(), ApiFailure> {
    match req.peer_addr() {
        Some(addr) if addr.ip().is_loopback() => Ok(()),
        _ => Err(ApiFailure::new(
            403,
            "Forbidden",
            "The control API answers on loopback only",
        )),
    }
}

async fn control_party(req: HttpRequest, payload: web::Payload, shared: Data) -> Answer {
    loopback_only(&req)?;
    let raw = body(&req, payload, 64 * 1024).await?;
    let account: PartyAccount = parse_body(&raw)?;
    shared.lock().upsert_party(account.clone())?;
    shared.persist();
    Ok(HttpResponse::Ok().json(
        json!({"PartyID": account.party_id, "Name": account.name, "VATNumber": account.vat_number}),
    ))
}

async fn control_advance(req: HttpRequest, shared: Data) -> Answer {
    loopback_only(&req)?;
    let (changes, ran) = shared.lock().run_steps(None);
    finish(&shared, changes);
    Ok(HttpResponse::Ok().json(json!({"steps_run": ran})))
}

async fn control_timeline(req: HttpRequest, path: web::Path<String>, shared: Data) -> Answer {
    loopback_only(&req)?;
    let id = id_of(&path, "Order")?;
    let store = shared.lock();
    let stored = store
        .orders
        .get(&id)
        .ok_or_else(|| ApiFailure::not_found("Order"))?;
    let steps: Vec<Value> = stored
        .steps
        .iter()
        .map(|step| json!({"step": step.kind.name(), "due_ms": step.due_ms, "done": step.done, "detail": step.kind}))
        .collect();
    Ok(
        HttpResponse::Ok()
            .json(json!({"OrderID": id, "scenario": stored.scenario, "steps": steps})),
    )
}

#[derive(Debug, Deserialize)]
struct EventBody {
    code: u16,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    action: Option<String>,
}

async fn control_event(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    shared: Data,
) -> Answer {
    loopback_only(&req)?;
    let id = id_of(&path, "Order")?;
    let raw = body(&req, payload, 64 * 1024).await?;
    let event: EventBody = serde_json::from_slice(&raw).map_err(|error| {
        ApiFailure::bad(
            "InvalidModel",
            format!("{{code, reason, comment}} expected: {error}"),
        )
    })?;
    let changes = shared.lock().inject(
        id,
        event.code,
        event.reason,
        event.comment,
        event.action,
        shared.config.step_ms,
    )?;
    finish(&shared, changes);
    Ok(HttpResponse::Ok().json(json!({"OrderID": id, "code": event.code})))
}

async fn control_put_faults(req: HttpRequest, payload: web::Payload, shared: Data) -> Answer {
    loopback_only(&req)?;
    let raw = body(&req, payload, 64 * 1024).await?;
    let faults: Faults = serde_json::from_slice(&raw)
        .map_err(|error| ApiFailure::bad("InvalidModel", format!("faults: {error}")))?;
    faults.validate()?;
    shared.lock().faults = faults.clone();
    shared.persist();
    Ok(HttpResponse::Ok().json(faults))
}

async fn control_get_faults(req: HttpRequest, shared: Data) -> Answer {
    loopback_only(&req)?;
    let faults = shared.lock().faults.clone();
    Ok(HttpResponse::Ok().json(faults))
}

async fn control_deliveries(req: HttpRequest, shared: Data) -> Answer {
    loopback_only(&req)?;
    let deliveries = shared.lock().deliveries.clone();
    Ok(HttpResponse::Ok().json(deliveries))
}

/// The routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .route("/orders", web::post().to(create_order))
            .route("/orders", web::get().to(list_orders))
            .route("/orders/commands/send", web::post().to(send_orders))
            .route("/orders/{id}", web::get().to(get_order))
            .route("/orders/{id}", web::patch().to(patch_order))
            .route("/orders/{id}", web::delete().to(delete_order))
            .route("/orders/{id}/payments", web::post().to(post_payment))
            .route("/files/{id}", web::get().to(get_file))
            .route("/webhooks", web::post().to(create_webhook))
            .route("/webhooks", web::get().to(list_webhooks))
            .route("/webhooks/refresh/{id}", web::post().to(refresh_webhook))
            .route("/webhooks/{id}", web::delete().to(delete_webhook))
            .route(
                "/account/accountInformation",
                web::get().to(account_information),
            )
            .route(
                "/peppol/participantInformation/{identifier}",
                web::get().to(participant),
            ),
    )
    .service(
        web::scope("/_sandbox")
            .route("/parties", web::post().to(control_party))
            .route("/advance", web::post().to(control_advance))
            .route("/orders/{id}/timeline", web::get().to(control_timeline))
            .route("/orders/{id}/events", web::post().to(control_event))
            .route("/faults", web::put().to(control_put_faults))
            .route("/faults", web::get().to(control_get_faults))
            .route("/webhooks/deliveries", web::get().to(control_deliveries)),
    )
    .default_service(web::to(not_found));
}
