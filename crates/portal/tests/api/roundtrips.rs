//! Database round-trips per hop of two flows, on a real database (SQLite, or PostgreSQL when
//! `PORTAL_TEST_DATABASE_URL` names a server):
//!
//! - a member records a payment on a sent invoice (the HTTP request), then the `payment.report` job it enqueues
//!   runs against the Billit sandbox, then the job that one enqueues;
//! - Billit delivers the webhooks of a new status (`POST /hooks/billit/{token}`, one request each), then the
//!   `billit.webhook` jobs run, then their follow-ups (file, notification, e-mails, order re-read).
//!
//! Each hop's statements are printed, in order and then grouped (`cargo test -p portal --test api roundtrips
//! -- --nocapture`), and each hop may send at most as many as it does today ([`PAYMENT_BOUNDS`],
//! [`WEBHOOK_BOUNDS`]): a change that sends more fails the test (its lists say which statements came in), one that
//! sends fewer should lower the bound. The bounds are the same on SQLite and PostgreSQL.
//!
//! How statements are seen: sea-orm's `tracing-spans` feature (turned on for the tests in `Cargo.toml`) opens one
//! `sea_orm.*` span per statement sent (`execute`, `query_one`, `query_all`, `execute_unprepared`, and `begin`,
//! `commit`, `rollback` of a transaction), carrying its SQL. The layer of [`counter`] gives each span to the hop
//! it belongs to: the HTTP request whose `x-request-id` (or its prefix, for the sandbox's webhooks) the test chose, through the app's own
//! `request` span; or, on the thread of a [`job_thread::JobThread`], the job that its one worker was running (the
//! worker spawns the handler without the job's span, so the handler's task is recognised instead: a task first
//! seen while a job is open is that job's handler).
//!
//! Checked against PostgreSQL's own log (`ROUNDTRIPS_PG_LOG=1` with `PORTAL_TEST_DATABASE_URL`: the app's
//! connections log every statement, and the test marks each phase in that log): the server executed exactly the
//! statements listed here, plus the test's own polling.
//!
//! Not statements, so not counted: what sqlx does by itself, such as opening a connection, PostgreSQL's
//! Parse/Describe the first time a connection prepares a statement, and its ping of a connection the pool hands
//! out after 30 s idle (each hop prints its pool acquires). A
//! transaction dropped without COMMIT or ROLLBACK gets a ROLLBACK from sqlx that no span shows: each hop prints
//! how many, when there are any.

use crate::editor::{good_invoice, id_in, location, post, today_date, wait_for, year};
use crate::helpers::{PASSWORD, Visitor, csrf_of};
use crate::statuses::{ACME, Setup, wait_until};
use billit_sandbox::Faults;
use counter::{Hop, PathRecording, Recording};
use job_thread::JobThread;
use portal_persistence::payments::{PaymentRepository, PaymentState};
use portal_persistence::webhook_deliveries::DeliveryState;

/// The statement counter: a `tracing` layer over sea-orm's statement spans. Self-contained (it needs `tracing`,
/// `tracing-subscriber`, `tokio` and `uuid`, and sea-orm's `tracing-spans` feature), so that it can be copied.
pub mod counter {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Once};
    use std::thread::ThreadId;
    use tracing::Subscriber;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};

    /// The name of the span a test opens around code it runs itself (`tag` = [`Recording::request_id`]).
    pub const MARKER_SPAN: &str = "roundtrips";

    /// One statement sent to the database.
    #[derive(Debug, Clone)]
    pub struct Statement {
        /// `execute`, `query_one`, `query_all`, `execute_unprepared`, `begin`, `commit` or `rollback`.
        pub call: String,
        /// `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `BEGIN`, `COMMIT`, `ROLLBACK` or `EXECUTE` (anything else).
        pub operation: String,
        /// The SQL with its placeholders (sea-orm records none for unprepared statements).
        pub sql: Option<String>,
        pub failed: bool,
    }

    impl Statement {
        /// The whole statement on one line (what duplicates are found by).
        pub fn text(&self) -> String {
            match &self.sql {
                Some(sql) => sql.split_whitespace().collect::<Vec<_>>().join(" "),
                None if self.call == "execute_unprepared" => {
                    format!("{} (unprepared, SQL not recorded)", self.operation)
                }
                None => self.operation.clone(),
            }
        }

        /// The statement with its column lists left out (`SELECT … FROM "invoices" WHERE …`), cut at `width`.
        pub fn short(&self, width: usize) -> String {
            let short = abridge(&self.text());
            let short = if self.failed {
                format!("[failed] {short}")
            } else {
                short
            };
            if short.chars().count() > width {
                let cut: String = short.chars().take(width.saturating_sub(1)).collect();
                format!("{cut}…")
            } else {
                short
            }
        }
    }

    /// `SELECT a, b FROM t` → `SELECT … FROM t`; `INSERT INTO t (a, b) VALUES (?, ?) RETURNING a` →
    /// `INSERT INTO t (…) VALUES (…) RETURNING …`; `UPDATE t SET a = ? WHERE …` → `UPDATE t SET … WHERE …`.
    fn abridge(sql: &str) -> String {
        if let Some(rest) = sql.strip_prefix("SELECT ")
            && let Some(from) = rest.find(" FROM ")
        {
            return format!("SELECT …{}", &rest[from..]);
        }
        if sql.starts_with("INSERT ")
            && let Some(values) = sql.find(" VALUES ")
        {
            let head = match sql[..values].find(" (") {
                Some(open) => format!("{} (…)", &sql[..open]),
                None => sql[..values].to_owned(),
            };
            let mut tail = &sql[values + " VALUES ".len()..];
            while let Some(after) = skip_group(tail) {
                tail = after.strip_prefix(", ").unwrap_or(after);
                if !tail.starts_with('(') {
                    break;
                }
            }
            let tail = match tail.find("RETURNING ") {
                Some(at) => format!("{}RETURNING …", &tail[..at]),
                None => tail.to_owned(),
            };
            return format!("{head} VALUES (…) {}", tail.trim_start())
                .trim_end()
                .to_owned();
        }
        if sql.starts_with("UPDATE ")
            && let Some(set) = sql.find(" SET ")
        {
            let tail = sql[set..].find(" WHERE ").map_or("", |at| &sql[set + at..]);
            return format!("{} SET …{tail}", &sql[..set]);
        }
        sql.to_owned()
    }

    /// The text after the parenthesised group `text` starts with.
    fn skip_group(text: &str) -> Option<&str> {
        if !text.starts_with('(') {
            return None;
        }
        let mut depth = 0usize;
        for (at, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(&text[at + 1..]);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The statements of one hop.
    #[derive(Debug, Clone)]
    pub struct Hop {
        pub label: String,
        pub statements: Vec<Statement>,
    }

    impl Hop {
        pub fn new(label: impl Into<String>, statements: Vec<Statement>) -> Self {
            Self {
                label: label.into(),
                statements,
            }
        }

        pub fn count(&self) -> usize {
            self.statements.len()
        }

        /// How many of each operation (`SELECT 5, INSERT 2, …`).
        pub fn by_operation(&self) -> String {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for statement in &self.statements {
                match counts.iter_mut().find(|(op, _)| *op == statement.operation) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((statement.operation.clone(), 1)),
                }
            }
            counts
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }

        /// How many connections the hop takes from the pool: one per statement outside a transaction, one per
        /// transaction. (sqlx pings a connection it hands out only when it sat idle for 30 s: see
        /// `portal_persistence::db::connect`.)
        pub fn pool_acquires(&self) -> usize {
            let mut depth = 0usize;
            let mut acquires = 0;
            for statement in &self.statements {
                match statement.call.as_str() {
                    "begin" => {
                        if depth == 0 {
                            acquires += 1;
                        }
                        depth += 1;
                    }
                    "commit" | "rollback" => depth = depth.saturating_sub(1),
                    _ if depth == 0 => acquires += 1,
                    _ => {}
                }
            }
            acquires
        }

        /// Transactions begun and not ended by a COMMIT or ROLLBACK statement: sqlx rolls them back when they are
        /// dropped, with a statement that no span shows.
        pub fn dropped_transactions(&self) -> usize {
            let begun = self.statements.iter().filter(|s| s.call == "begin").count();
            let ended = self
                .statements
                .iter()
                .filter(|s| s.call == "commit" || s.call == "rollback")
                .count();
            begun.saturating_sub(ended)
        }

        /// Distinct statements with how many times each was sent, in the order they were first sent.
        pub fn distinct(&self) -> Vec<(usize, Statement)> {
            let mut distinct: Vec<(usize, Statement)> = Vec::new();
            for statement in &self.statements {
                let text = statement.text();
                match distinct.iter_mut().find(|(_, seen)| seen.text() == text) {
                    Some((n, _)) => *n += 1,
                    None => distinct.push((1, statement.clone())),
                }
            }
            distinct
        }

        /// The hop as a report: its count, every statement in order, then the distinct ones with their counts.
        pub fn report(&self, width: usize) -> String {
            let mut out = format!(
                "── {}: {} statements ({}); {} pool acquires\n",
                self.label,
                self.count(),
                self.by_operation(),
                self.pool_acquires()
            );
            let dropped = self.dropped_transactions();
            if dropped > 0 {
                out.push_str(&format!(
                    "   + {dropped} transaction(s) dropped without COMMIT/ROLLBACK (an unseen ROLLBACK each)\n"
                ));
            }
            for (n, statement) in self.statements.iter().enumerate() {
                out.push_str(&format!("   {:>3}. {}\n", n + 1, statement.short(width)));
            }
            let distinct = self.distinct();
            if distinct.len() < self.statements.len() {
                out.push_str("   sent more than once:\n");
                for (n, statement) in distinct.iter().filter(|(n, _)| *n > 1) {
                    out.push_str(&format!("   {n:>3}× {}\n", statement.short(width)));
                }
            }
            out
        }
    }

    type Log = Arc<Mutex<Vec<Statement>>>;
    /// The requests to one path, each with its request id and its statements.
    type PathLog = Arc<Mutex<Vec<(String, Log)>>>;

    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the layer knows: the recordings under way and the job threads.
    #[derive(Default)]
    struct State {
        /// By request id (the `x-request-id` a test sends, or a marker span's tag).
        by_request_id: HashMap<String, Log>,
        /// By request id prefix (requests the test does not send itself): every request gets its own log.
        by_path: HashMap<String, PathLog>,
        job_threads: HashMap<ThreadId, Arc<Mutex<JobThreadLog>>>,
    }

    static STATE: LazyLock<Mutex<State>> = LazyLock::new(Mutex::default);
    static PROBED: AtomicBool = AtomicBool::new(false);
    const PROBE_TAG: &str = "roundtrips-probe";

    /// Installs the global subscriber: the same console output as `portal::telemetry::init` (which then does
    /// nothing), plus the counter. Must run before anything else installs one: `TestApp::spawn_on` calls it.
    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let filter = EnvFilter::try_from_env("RUST_LOG")
                .or_else(|_| EnvFilter::try_new("warn"))
                .unwrap_or_else(|_| EnvFilter::new("info"));
            let console = tracing_subscriber::fmt::layer()
                .compact()
                .with_writer(std::io::stderr)
                .with_target(true)
                .with_filter(filter);
            let counter = Counter.with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_span()
                    && (meta.name().starts_with("sea_orm.")
                        || matches!(meta.name(), "request" | "job" | MARKER_SPAN))
            }));
            let _already_set = tracing_subscriber::registry()
                .with(console)
                .with(counter)
                .with(crate::logs::layer())
                .try_init();
        });
    }

    /// Whether the counter is the global subscriber's (another test binary's subscriber would hide every span).
    pub fn is_installed() -> bool {
        tracing::info_span!(MARKER_SPAN, tag = PROBE_TAG).in_scope(|| {});
        PROBED.load(Ordering::SeqCst)
    }

    /// The statements of one hop while it is recorded: those under a request span whose `request_id` is
    /// [`Recording::request_id`] (send it as `x-request-id`), or under a span that the test opens around code it
    /// runs itself: `tracing::info_span!(MARKER_SPAN, tag = %recording.request_id())`.
    pub struct Recording {
        label: String,
        tag: String,
        log: Log,
    }

    impl Recording {
        pub fn start(label: impl Into<String>) -> Self {
            install();
            assert!(
                is_installed(),
                "the round-trip counter is not the global subscriber"
            );
            let tag = format!("roundtrips-{}", uuid::Uuid::now_v7().simple());
            let log = Log::default();
            lock(&STATE)
                .by_request_id
                .insert(tag.clone(), Arc::clone(&log));
            Self {
                label: label.into(),
                tag,
                log,
            }
        }

        /// The value of the `x-request-id` header of the request to record.
        pub fn request_id(&self) -> &str {
            &self.tag
        }

        pub fn finish(self) -> Hop {
            lock(&STATE).by_request_id.remove(&self.tag);
            let statements = lock(&self.log).clone();
            Hop::new(self.label, statements)
        }
    }

    /// Every request whose id starts with a prefix while it is recorded, each apart (the webhooks the sandbox sends,
    /// `billit-<port of the portal>-…`).
    pub struct PathRecording {
        label: String,
        path: String,
        requests: PathLog,
    }

    impl PathRecording {
        pub fn start(label: impl Into<String>, path: impl Into<String>) -> Self {
            install();
            assert!(
                is_installed(),
                "the round-trip counter is not the global subscriber"
            );
            let path = path.into();
            let requests = Arc::default();
            lock(&STATE)
                .by_path
                .insert(path.clone(), Arc::clone(&requests));
            Self {
                label: label.into(),
                path,
                requests,
            }
        }

        /// One hop per request, in the order they arrived.
        pub fn finish(self) -> Vec<Hop> {
            lock(&STATE).by_path.remove(&self.path);
            lock(&self.requests)
                .iter()
                .enumerate()
                .map(|(n, (_, log))| {
                    Hop::new(format!("{} #{}", self.label, n + 1), lock(log).clone())
                })
                .collect()
        }
    }

    /// The statements of the jobs one job at a time ran on a thread of its own (`JobThread`), split into what the
    /// handler sent, what the worker sent for the job (its completion), and the claim that fetched it.
    #[derive(Debug, Clone)]
    pub struct JobStatements {
        pub kind: String,
        pub claim: Vec<Statement>,
        pub handler: Vec<Statement>,
        pub worker: Vec<Statement>,
    }

    impl JobStatements {
        /// Claim, handler and completion as one hop.
        pub fn hop(&self) -> Hop {
            let statements = self
                .claim
                .iter()
                .chain(&self.handler)
                .chain(&self.worker)
                .cloned()
                .collect();
            Hop::new(
                format!(
                    "job {} (claim {} + handler {} + worker {})",
                    self.kind,
                    self.claim.len(),
                    self.handler.len(),
                    self.worker.len()
                ),
                statements,
            )
        }
    }

    #[derive(Clone, Copy)]
    enum TaskRole {
        /// The worker loop or the scheduler: outside a job's span, they claim jobs and enqueue periodic ones.
        Runner,
        /// A handler task, spawned for this job.
        Handler(usize),
    }

    struct JobLogs {
        kind: String,
        claim: Vec<Statement>,
        handler: Log,
        worker: Log,
    }

    /// A statement of the worker loop or the scheduler, outside any job's span.
    struct RunnerStatement {
        task: Option<tokio::task::Id>,
        statement: Statement,
        /// The claim that fetched a job (then counted with that job).
        is_claim: bool,
    }

    /// What happened on a job thread. With one worker, one job is open at a time; a task first seen while a job
    /// is open is that job's handler (the worker spawns it), any other is the worker loop or the scheduler.
    #[derive(Default)]
    struct JobThreadLog {
        open: Option<usize>,
        tasks: HashMap<tokio::task::Id, TaskRole>,
        jobs: Vec<JobLogs>,
        runner: Vec<RunnerStatement>,
        jobs_taken: usize,
        runner_taken: usize,
    }

    impl JobThreadLog {
        fn open_job(&mut self, kind: String) -> usize {
            // The worker's last statement before it opens the job's span is the claim that fetched it.
            let worker = tokio::task::try_id();
            let claim = self
                .runner
                .iter_mut()
                .rev()
                .find(|entry| worker.is_some() && entry.task == worker)
                .filter(|entry| !entry.is_claim)
                .map(|entry| {
                    entry.is_claim = true;
                    entry.statement.clone()
                });
            self.jobs.push(JobLogs {
                kind,
                claim: claim.into_iter().collect(),
                handler: Log::default(),
                worker: Log::default(),
            });
            let index = self.jobs.len() - 1;
            self.open = Some(index);
            index
        }

        fn close_job(&mut self, index: usize) {
            if self.open == Some(index) {
                self.open = None;
            }
        }

        /// Where a statement sent under a job's span goes: the worker's own, for this job.
        fn worker_log(&mut self, index: usize) -> Log {
            if let Some(task) = tokio::task::try_id() {
                self.tasks.entry(task).or_insert(TaskRole::Runner);
            }
            Arc::clone(&self.jobs[index].worker)
        }

        /// Where a statement sent outside any job's span goes: its job's handler log, or (`None`) the runner's list.
        fn handler_log(&mut self) -> Option<Log> {
            let task = tokio::task::try_id()?;
            let open = self.open;
            let role = *self.tasks.entry(task).or_insert(match open {
                Some(index) => TaskRole::Handler(index),
                None => TaskRole::Runner,
            });
            match role {
                TaskRole::Handler(index) => Some(Arc::clone(&self.jobs[index].handler)),
                TaskRole::Runner => None,
            }
        }

        /// Adds a runner statement; returns its index.
        fn runner_statement(&mut self, statement: Statement) -> usize {
            self.runner.push(RunnerStatement {
                task: tokio::task::try_id(),
                statement,
                is_claim: false,
            });
            self.runner.len() - 1
        }
    }

    /// The counter's side of a job thread: register it from that thread before it runs anything.
    pub struct JobThreadHandle {
        thread: ThreadId,
        log: Arc<Mutex<JobThreadLog>>,
    }

    impl JobThreadHandle {
        /// Counts every statement sent from the current thread from now on as a job thread's.
        pub fn register_current_thread() -> Self {
            let thread = std::thread::current().id();
            let log = Arc::new(Mutex::new(JobThreadLog::default()));
            lock(&STATE).job_threads.insert(thread, Arc::clone(&log));
            Self { thread, log }
        }

        /// The jobs that ended since the last call (each with its statements), and the other statements that the
        /// worker loop and the scheduler sent meanwhile (claims that found nothing, periodic enqueues).
        pub fn take(&self) -> (Vec<JobStatements>, Vec<Statement>) {
            let mut log = lock(&self.log);
            let end = log.open.unwrap_or(log.jobs.len());
            let jobs = log.jobs[log.jobs_taken..end]
                .iter()
                .map(|job| JobStatements {
                    kind: job.kind.clone(),
                    claim: job.claim.clone(),
                    handler: lock(&job.handler).clone(),
                    worker: lock(&job.worker).clone(),
                })
                .collect();
            log.jobs_taken = end;
            let runner = log.runner[log.runner_taken..]
                .iter()
                .filter(|entry| !entry.is_claim)
                .map(|entry| entry.statement.clone())
                .collect();
            log.runner_taken = log.runner.len();
            (jobs, runner)
        }
    }

    impl Drop for JobThreadHandle {
        fn drop(&mut self) {
            lock(&STATE).job_threads.remove(&self.thread);
        }
    }

    /// Where a statement span's record goes once its SQL is known.
    struct Slot {
        log: Log,
        index: usize,
    }

    /// On a request or marker span that is recorded.
    struct Recorded(Log);

    /// On a job's span, on a job thread.
    struct JobSpan {
        log: Arc<Mutex<JobThreadLog>>,
        index: usize,
    }

    #[derive(Default)]
    struct Fields(Vec<(&'static str, String)>);

    impl Fields {
        fn of(attrs: &Attributes<'_>) -> Self {
            let mut fields = Self::default();
            attrs.record(&mut fields);
            fields
        }

        fn get(&self, name: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, value)| value.as_str())
        }
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((field.name(), format!("{value:?}")));
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name(), value.to_owned()));
        }
    }

    struct Counter;

    impl<S> Layer<S> for Counter
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(id) else {
                return;
            };
            let name = attrs.metadata().name();
            match name {
                "request" => {
                    let fields = Fields::of(attrs);
                    let state = lock(&STATE);
                    let log = match fields.get("request_id") {
                        Some(request_id) if state.by_request_id.contains_key(request_id) => {
                            state.by_request_id.get(request_id).cloned()
                        }
                        _ => fields
                            .get("request_id")
                            .and_then(|id| {
                                state
                                    .by_path
                                    .iter()
                                    .find(|(prefix, _)| id.starts_with(prefix.as_str()))
                                    .map(|(_, requests)| requests)
                            })
                            .map(|requests| {
                                let log = Log::default();
                                let request_id = fields.get("request_id").unwrap_or_default();
                                lock(requests).push((request_id.to_owned(), Arc::clone(&log)));
                                log
                            }),
                    };
                    drop(state);
                    if let Some(log) = log {
                        span.extensions_mut().insert(Recorded(log));
                    }
                }
                MARKER_SPAN => {
                    let fields = Fields::of(attrs);
                    if fields.get("tag") == Some(PROBE_TAG) {
                        PROBED.store(true, Ordering::SeqCst);
                    }
                    let log = fields
                        .get("tag")
                        .and_then(|tag| lock(&STATE).by_request_id.get(tag).cloned());
                    if let Some(log) = log {
                        span.extensions_mut().insert(Recorded(log));
                    }
                }
                "job" => {
                    let thread = lock(&STATE)
                        .job_threads
                        .get(&std::thread::current().id())
                        .cloned();
                    if let Some(log) = thread {
                        let fields = Fields::of(attrs);
                        let index =
                            lock(&log).open_job(fields.get("kind").unwrap_or_default().to_owned());
                        span.extensions_mut().insert(JobSpan { log, index });
                    }
                }
                _ if name.starts_with("sea_orm.") => {
                    let call = name.trim_start_matches("sea_orm.").to_owned();
                    let operation = match call.as_str() {
                        "begin" | "commit" | "rollback" => call.to_ascii_uppercase(),
                        _ => Fields::of(attrs)
                            .get("db.operation")
                            .unwrap_or("EXECUTE")
                            .to_owned(),
                    };
                    let mut destination = None;
                    for ancestor in span.scope().skip(1) {
                        let extensions = ancestor.extensions();
                        if let Some(Recorded(log)) = extensions.get::<Recorded>() {
                            destination = Some(Some(Arc::clone(log)));
                            break;
                        }
                        if let Some(job) = extensions.get::<JobSpan>() {
                            destination = Some(Some(lock(&job.log).worker_log(job.index)));
                            break;
                        }
                    }
                    let statement = Statement {
                        call,
                        operation,
                        sql: None,
                        failed: false,
                    };
                    let log = match destination {
                        Some(log) => log,
                        None => {
                            let thread = lock(&STATE)
                                .job_threads
                                .get(&std::thread::current().id())
                                .cloned();
                            let Some(thread) = thread else {
                                return;
                            };
                            let mut log = lock(&thread);
                            match log.handler_log() {
                                Some(log) => Some(log),
                                None => {
                                    let index = log.runner_statement(statement.clone());
                                    drop(log);
                                    span.extensions_mut().insert(RunnerSlot(thread, index));
                                    None
                                }
                            }
                        }
                    };
                    if let Some(log) = log {
                        let index = {
                            let mut log = lock(&log);
                            log.push(statement);
                            log.len() - 1
                        };
                        span.extensions_mut().insert(Slot { log, index });
                    }
                }
                _ => {}
            }
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(id) else {
                return;
            };
            let mut fields = Fields::default();
            values.record(&mut fields);
            let update = |statement: &mut Statement| {
                if let Some(sql) = fields.get("db.statement") {
                    statement.sql = Some(sql.to_owned());
                }
                if fields.get("otel.status_code") == Some("ERROR") {
                    statement.failed = true;
                }
            };
            let extensions = span.extensions();
            if let Some(slot) = extensions.get::<Slot>() {
                if let Some(statement) = lock(&slot.log).get_mut(slot.index) {
                    update(statement);
                }
            } else if let Some(RunnerSlot(thread, index)) = extensions.get::<RunnerSlot>()
                && let Some(entry) = lock(thread).runner.get_mut(*index)
            {
                update(&mut entry.statement);
            }
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(&id)
                && let Some(job) = span.extensions().get::<JobSpan>()
            {
                lock(&job.log).close_job(job.index);
            }
        }
    }

    /// On a statement span of a job thread's worker loop or scheduler.
    struct RunnerSlot(Arc<Mutex<JobThreadLog>>, usize);
}

/// Runs the application's jobs, one at a time, on a thread of its own that the counter watches: the app itself
/// has no workers (`jobs.workers = 0`), this thread has the only one.
pub mod job_thread {
    use super::counter::{JobStatements, JobThreadHandle, Statement};
    use portal_app::worker::{WorkerPool, WorkerSettings};
    use portal_web::state::AppState;
    use std::sync::Arc;
    use std::time::Duration;

    pub struct JobThread {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
        handle: Arc<JobThreadHandle>,
    }

    impl JobThread {
        /// One worker with the portal's own job handlers (`startup::default_registry`), polling every 100 ms.
        pub fn start(state: &AppState) -> Self {
            super::counter::install();
            let jobs = state.jobs.clone();
            let registry = portal::startup::default_registry(state);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (ready, is_ready) = std::sync::mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("roundtrips-jobs".to_owned())
                .spawn(move || {
                    let handle = Arc::new(JobThreadHandle::register_current_thread());
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime for the jobs");
                    runtime.block_on(async move {
                        let pool = WorkerPool::start(
                            jobs,
                            registry,
                            WorkerSettings {
                                workers: 1,
                                poll_interval: Duration::from_millis(100),
                                lease: Duration::from_secs(60),
                                shutdown_grace: Duration::from_secs(10),
                                name: "roundtrips".to_owned(),
                            },
                        );
                        let _ = ready.send(Arc::clone(&handle));
                        let _ = stopped.await;
                        pool.stop().await;
                        drop(handle);
                    });
                })
                .expect("the jobs' thread starts");
            let handle = is_ready.recv().expect("the jobs' thread is ready");
            Self {
                stop: Some(stop),
                thread: Some(thread),
                handle,
            }
        }

        /// The jobs that ran since the last call, and the worker loop's and scheduler's other statements.
        pub fn take(&self) -> (Vec<JobStatements>, Vec<Statement>) {
            self.handle.take()
        }

        pub async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            if let Some(thread) = self.thread.take() {
                tokio::task::spawn_blocking(move || thread.join())
                    .await
                    .expect("joined")
                    .expect("the jobs' thread ended well");
            }
        }
    }
}

const WIDTH: usize = 100;

/// The most statements a flow's hops may send, by hop name (a request's label, or a job's kind): one bound per
/// hop of that name, as many as the flow has, in any order.
type Bounds = &'static [(&'static str, &'static [usize])];

const PAYMENT_POST: &str = "HTTP POST /t/{slug}/invoices/{id}/payments";
const WEBHOOK_POST: &str = "HTTP POST /hooks/billit/{token}";

/// A payment recorded and reported (baseline before the one-pass ingestion: 12, 12, 13).
const PAYMENT_BOUNDS: Bounds = &[
    (PAYMENT_POST, &[11]),
    ("payment.report", &[11]),
    // 10, and the new statuses announced to the company's outgoing webhook endpoints (one `UPDATE … RETURNING`
    // of the endpoints, in the pass's transaction), and the successful Billit call written to the company's
    // health for the firm's console (one upsert of `billit_health`).
    ("billit.sync_order", &[12]),
];

/// A status's webhooks and their jobs (baseline before the one-pass ingestion: 5, 5, 15, 7, 12, 16, 6 × 3, 20).
const WEBHOOK_BOUNDS: Bounds = &[
    (WEBHOOK_POST, &[5, 5]),
    // The Message webhook (its event appended, folded, its file and notification enqueued), then the Order
    // webhook (no event: the order's read enqueued). The Message webhook's 12 are 13 with the announcement of its
    // status to the outgoing webhook endpoints (one statement in the pass).
    ("billit.webhook", &[13, 6]),
    ("billit.fetch_file", &[10]),
    ("invoice.notify", &[11]),
    // One email per admin or member who wants to know (the world's viewer gets none).
    ("mail.send", &[5, 5]),
    // 8, and the successful Billit call written to the company's health for the firm's console (one upsert).
    ("billit.sync_order", &[9]),
];

/// Job kinds whose jobs a worker claims together when several are queued (`WorkerRegistry::handle_batch`): as the
/// machine's timing falls, the flow has one hop per job or fewer hops doing several jobs each.
const BATCHED: &[&str] = &["billit.webhook"];

/// Fails when a hop sent more statements than its bound, or the flow has other hops than the bounds expect (a
/// batched kind's jobs done together are held to the sum of their bounds).
fn assert_bounds(title: &str, hops: &[(&str, &Hop)], bounds: Bounds) {
    let mut problems = Vec::new();
    for (name, hop) in hops {
        if !bounds.iter().any(|(bounded, _)| bounded == name) {
            problems.push(format!(
                "{}: {} statements, a hop the bounds do not expect",
                hop.label,
                hop.count()
            ));
        }
    }
    for (name, limits) in bounds {
        let mut counts: Vec<usize> = hops
            .iter()
            .filter(|(hop_name, _)| hop_name == name)
            .map(|(_, hop)| hop.count())
            .collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let mut limits = limits.to_vec();
        limits.sort_unstable_by(|a, b| b.cmp(a));
        if BATCHED.contains(name) && !counts.is_empty() && counts.len() < limits.len() {
            // The worker took several of them in one batch (they were queued together): the batch's hops are
            // held to the bounds of all of them together.
            let (sent, allowed) = (counts.iter().sum::<usize>(), limits.iter().sum::<usize>());
            if sent > allowed {
                problems.push(format!(
                    "{name}: {sent} statements in {} batched hops, at most {allowed} for {} jobs",
                    counts.len(),
                    limits.len()
                ));
            }
            continue;
        }
        if counts.len() != limits.len() {
            problems.push(format!(
                "{name}: {} hops, {} expected",
                counts.len(),
                limits.len()
            ));
            continue;
        }
        for (count, limit) in counts.iter().zip(&limits) {
            if count > limit {
                problems.push(format!("{name}: {count} statements, at most {limit}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{title}: more database round-trips than allowed (the lists above, with --nocapture, say which):\n  {}",
        problems.join("\n  ")
    );
}

/// The app without workers of its own (the job thread has the only one), and no periodic sweep during the test
/// (its jobs would read Billit's orders before the webhooks do).
fn quiet(mut config: portal::config::Config) -> portal::config::Config {
    config.jobs.workers = 0;
    config.billit.poll_interval_secs = 1_000_000;
    if pg_log()
        && let Some(url) = &config.database.url
        && url.expose().starts_with("postgres")
    {
        // Every statement of the app's own connections in the server's log (prefixed with the database's name),
        // to check the counter against.
        let url = format!("{}?options=-c%20log_statement%3Dall", url.expose());
        config.database.url = Some(portal::secret::Secret::new(url));
    }
    config
}

/// `ROUNDTRIPS_PG_LOG=1`: the app's PostgreSQL connections log every statement (`log_statement = all`), and the
/// test marks where each phase starts and ends in that log.
fn pg_log() -> bool {
    std::env::var_os("ROUNDTRIPS_PG_LOG").is_some()
}

/// A statement that shows in the server's log where a phase starts or ends (with `ROUNDTRIPS_PG_LOG`).
async fn mark(setup: &Setup, what: &str) {
    use sea_orm::ConnectionTrait;
    if pg_log() && setup.app.test_db.is_postgres() {
        setup
            .app
            .state
            .db
            .execute_unprepared(&format!("SELECT 'roundtrips mark: {what}'"))
            .await
            .unwrap();
    }
}

fn backend(setup: &Setup) -> String {
    if setup.app.test_db.is_postgres() {
        let url = setup.app.test_db.url();
        let name = url.rsplit('/').next().unwrap_or_default();
        format!("PostgreSQL, database {name}")
    } else {
        "SQLite".to_owned()
    }
}

/// Prints the hops of a flow, and a summary line for each.
fn print_flow(title: &str, hops: &[Hop], runner: &[counter::Statement]) {
    let mut out = format!("\n════ {title}\n");
    for hop in hops {
        out.push_str(&hop.report(WIDTH));
    }
    if !runner.is_empty() {
        out.push_str(
            &Hop::new(
                "(not in any hop: idle claims and periodic enqueues of the job thread)",
                runner.to_vec(),
            )
            .report(WIDTH),
        );
    }
    out.push_str(&format!(
        "──── {title}: summary (statements, pool acquires)\n"
    ));
    for hop in hops {
        out.push_str(&format!(
            "   {:>4} {:>4}  {}\n",
            hop.count(),
            hop.pool_acquires(),
            hop.label
        ));
    }
    let total: usize = hops.iter().map(Hop::count).sum();
    let acquires: usize = hops.iter().map(Hop::pool_acquires).sum();
    out.push_str(&format!("   {total:>4} {acquires:>4}  total\n"));
    println!("{out}");
}

/// The pages a member opens most, each once its visitor's session and company are in the cache (the first visit of
/// each is not measured): the statements left are the page's own reads, and none of them grows with the company
/// (the query-plan test holds their plans).
const PAGE_BOUNDS: Bounds = &[
    // The kept counts of its chips, and one page of rows.
    ("HTTP GET /t/{slug}/invoices", &[2]),
    // The Billit connection, the counts, the two panels of invoices needing action, the latest events and their
    // invoices.
    ("HTTP GET /t/{slug}", &[6]),
    // The invoice, its events, payments, credit notes and corrected invoices (what they take back added up from
    // them), emails and reminders.
    ("HTTP GET /t/{slug}/invoices/{id}", &[6]),
];

#[tokio::test]
async fn roundtrips_of_the_most_visited_pages() {
    counter::install();
    let setup = Setup::start_with(quiet).await;
    let jobs = JobThread::start(&setup.app.state);
    let acme = setup.connect("acme", ACME).await;
    setup.mute_webhooks();
    let (invoice, _order) = setup.send(&acme, ACME, "F2026-0201", "").await;
    setup.sandbox.advance();
    portal_app::statuses::sweep_tenant_now(&setup.app.state, &acme)
        .await
        .expect("a sweep");
    setup.settle().await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let pages = [
        ("HTTP GET /t/{slug}/invoices", "/t/acme/invoices".to_owned()),
        ("HTTP GET /t/{slug}", "/t/acme".to_owned()),
        (
            "HTTP GET /t/{slug}/invoices/{id}",
            format!("/t/acme/invoices/{}", invoice.as_uuid()),
        ),
    ];
    let mut hops = Vec::new();
    for (label, path) in &pages {
        assert_eq!(member.get(path).await.status(), 200, "{path} opens");
        mark(&setup, label).await;
        let recording = Recording::start(*label);
        let response = member
            .client
            .get(format!("{}{path}", setup.app.address))
            .header("x-request-id", recording.request_id())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path} opens again");
        hops.push(recording.finish());
    }
    let title = format!("the most visited pages ({})", backend(&setup));
    print_flow(&title, &hops, &[]);
    let named: Vec<(&str, &Hop)> = pages.iter().map(|(label, _)| *label).zip(&hops).collect();
    assert_bounds(&title, &named, PAGE_BOUNDS);
    jobs.stop().await;
    setup.stop().await;
}

#[tokio::test]
async fn roundtrips_of_a_payment_post_and_its_report() {
    counter::install();
    let setup = Setup::start_with(quiet).await;
    let jobs = JobThread::start(&setup.app.state);
    let scope = setup.connect("acme", ACME).await;
    setup.mute_webhooks();
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let number = format!("F{}-00001", year());
    let sent = post(&member, "/t/acme/invoices", &good_invoice(&number), "send").await;
    assert_eq!(sent.status(), 303, "{number} is accepted for sending");
    let id = id_in(&location(&sent));
    wait_for(&setup.app, id, "sent to Billit", |row| {
        row.submission_state == "sent"
    })
    .await;
    setup.settle().await;
    // The invoice's page, as the member has it open (its form's CSRF token); not measured.
    let page = format!("/t/acme/invoices/{id}");
    let token = csrf_of(&member.get(&page).await.text().await.unwrap());
    let _before = jobs.take();

    mark(&setup, "payment POST starts").await;
    let recording = Recording::start(PAYMENT_POST);
    let paid_on = today_date().format("%Y-%m-%d").to_string();
    let response = member
        .client
        .post(format!("{}{page}/payments", setup.app.address))
        .header("x-request-id", recording.request_id())
        .form(&[
            ("amount", "100,00"),
            ("paid_on", paid_on.as_str()),
            ("method", "transfer"),
            ("reference", "VIR-2026-1"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the payment is recorded");
    let request = recording.finish();
    mark(&setup, "payment POST ended").await;

    let payments = PaymentRepository::new(setup.app.test_db.db.clone());
    let invoice = portal_domain::ids::InvoiceId::from_uuid(id);
    wait_until("the payment reported to Billit", async || {
        payments
            .list(&scope, invoice)
            .await
            .unwrap()
            .iter()
            .all(|payment| payment.state == PaymentState::Reported)
    })
    .await;
    setup.settle().await;
    mark(&setup, "payment jobs ended").await;
    let (ran, runner) = jobs.take();
    let mut hops = vec![request];
    hops.extend(ran.iter().map(|job| job.hop()));
    assert!(
        ran.iter().any(|job| job.kind == "payment.report"),
        "the report ran on the job thread: {:?}",
        ran.iter().map(|job| &job.kind).collect::<Vec<_>>()
    );
    let title = format!("a payment recorded and reported ({})", backend(&setup));
    print_flow(&title, &hops, &runner);
    let names = std::iter::once(PAYMENT_POST).chain(ran.iter().map(|job| job.kind.as_str()));
    let named: Vec<(&str, &Hop)> = names.zip(&hops).collect();
    assert_bounds(&title, &named, PAYMENT_BOUNDS);
    jobs.stop().await;
    setup.stop().await;
}

#[tokio::test]
async fn roundtrips_of_a_webhook_delivery_and_its_jobs() {
    counter::install();
    let setup = Setup::start_with(quiet).await;
    let jobs = JobThread::start(&setup.app.state);
    let acme = setup.connect("acme", ACME).await;
    // The invoice is sent and delivered, and the portal knows it (by a sweep): the webhooks measured are those of
    // one new status on an invoice with a history.
    setup.mute_webhooks();
    let (invoice, order_id) = setup.send(&acme, ACME, "F2026-0101", "").await;
    setup.sandbox.advance();
    portal_app::statuses::sweep_tenant_now(&setup.app.state, &acme)
        .await
        .expect("a sweep");
    setup.settle().await;
    let known = setup
        .app
        .state
        .invoices
        .events(&acme, invoice)
        .await
        .unwrap()
        .len();
    assert!(known > 0, "the invoice has a history");
    setup.sandbox.set_faults(Faults::default()).unwrap();
    let _before = jobs.take();

    // A dispute at Billit (a status that needs action, with its CDAR file): Billit delivers a Message webhook
    // and an Order webhook.
    mark(&setup, "webhooks start").await;
    // The portal logs routes, never paths (with their token): this portal's deliveries are known by the request id
    // the sandbox sends them with (`billit-<port of the portal>-…`).
    let port = setup.app.address.rsplit(':').next().unwrap().to_owned();
    let recording = PathRecording::start(WEBHOOK_POST, format!("billit-{port}-"));
    setup
        .sandbox
        .inject(
            order_id,
            207,
            Some("TX_TVA_ERR"),
            Some("Le taux de TVA de la ligne 1 devrait être 10 %"),
        )
        .unwrap();
    wait_until("both webhooks delivered", async || {
        setup.deliveries().recent(&acme, 100).await.unwrap().len() >= 2
    })
    .await;
    wait_until("both deliveries processed", async || {
        setup
            .deliveries()
            .recent(&acme, 100)
            .await
            .unwrap()
            .iter()
            .all(|delivery| delivery.state == DeliveryState::Processed)
    })
    .await;
    setup.settle().await;
    mark(&setup, "webhook jobs ended").await;
    let requests = recording.finish();
    let (ran, runner) = jobs.take();
    assert!(requests.len() >= 2, "a Message and an Order webhook");
    let summary = setup.summary(&acme, invoice).await;
    assert!(summary.needs_action, "the dispute needs action");

    let deliveries = requests.len();
    let mut hops = requests;
    hops.extend(ran.iter().map(|job| job.hop()));
    let title = format!(
        "a status's webhooks and their jobs ({}, {known} events known before)",
        backend(&setup)
    );
    print_flow(&title, &hops, &runner);
    let names = std::iter::repeat_n(WEBHOOK_POST, deliveries)
        .chain(ran.iter().map(|job| job.kind.as_str()));
    let named: Vec<(&str, &Hop)> = names.zip(&hops).collect();
    assert_bounds(&title, &named, WEBHOOK_BOUNDS);
    jobs.stop().await;
    setup.stop().await;
}
