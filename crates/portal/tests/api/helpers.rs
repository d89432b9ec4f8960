use portal::config::Config;
use portal::secret::Secret;
use portal::startup::Application;
use portal_app::worker::JobRegistry;
use portal_persistence::testing::TestDatabase;
use portal_web::state::AppState;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The test's database, with its own connection pool (the app closes its pool on shutdown).
    pub test_db: TestDatabase,
    stop: actix_web::dev::ServerHandle,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config(test_db: &TestDatabase) -> Config {
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".to_owned();
    config.server.data_dir = test_db.scratch_dir().join("data");
    config.server.shutdown_grace_secs = 1;
    config.database.url = Some(Secret::new(test_db.url()));
    config.jobs.workers = 0;
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|config| config, |_state| JobRegistry::new()).await
    }

    pub async fn spawn_with(
        configure: impl FnOnce(Config) -> Config,
        registry: impl FnOnce(&AppState) -> JobRegistry,
    ) -> Self {
        let test_db = TestDatabase::new().await.expect("test database");
        Self::spawn_on(test_db, configure, registry).await
    }

    /// A new process of the application on an existing database and data dir (a restart).
    pub async fn spawn_on(
        test_db: TestDatabase,
        configure: impl FnOnce(Config) -> Config,
        registry: impl FnOnce(&AppState) -> JobRegistry,
    ) -> Self {
        // The round-trip counter must be in the global subscriber, which the first test to get here installs.
        crate::roundtrips::counter::install();
        portal::telemetry::init("warn", false);
        let config = configure(test_config(&test_db));
        let app = Application::build_with(config, registry)
            .await
            .expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let stop = app.stop_handle();
        let running = Some(tokio::spawn(app.run_until_stopped()));
        let client = browser();
        Self {
            address,
            client,
            state,
            test_db,
            stop,
            running,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// Stops like SIGTERM would and waits for the workers to finish or release their jobs; the database stays
    /// for the test to inspect.
    pub async fn shutdown(mut self) -> TestDatabase {
        self.stop.stop(true).await;
        if let Some(running) = self.running.take() {
            running.await.unwrap().unwrap();
        }
        self.test_db
    }
}

/// A client that keeps cookies like a browser and does not follow redirects (tests look at them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// The value of the first `csrf_token` hidden input of a page.
pub fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page has a form with a csrf_token")
        .to_owned()
}

/// Someone using the portal in a browser of their own.
pub struct Visitor<'a> {
    pub app: &'a TestApp,
    pub client: reqwest::Client,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: browser(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.app.address))
            .send()
            .await
            .unwrap()
    }

    /// Loads `page`, takes its CSRF token, and posts `form` to `action` with it.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let html = self.get(page).await.text().await.unwrap();
        let token = csrf_of(&html);
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf_token", &token));
        self.client
            .post(format!("{}{action}", self.app.address))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    /// Posts without any CSRF token (what a forged cross-site form would do).
    pub async fn post_without_token(
        &self,
        action: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{action}", self.app.address))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Signs in and checks it worked.
    pub async fn signed_in(app: &'a TestApp, email: &str, password: &str) -> Self {
        let visitor = Self::new(app);
        let response = visitor.login(email, password).await;
        assert_eq!(response.status(), 303, "sign-in of {email}");
        visitor
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A company with one user of each role (and the same for a second company), created through the repositories.
pub struct World {
    pub acme: portal_persistence::tenants::Tenant,
    pub globex: portal_persistence::tenants::Tenant,
}

impl TestApp {
    pub async fn user(
        &self,
        email: &str,
        tenant: Option<&portal_persistence::tenants::Tenant>,
        role: portal_persistence::TenantRole,
    ) -> portal_domain::ids::UserId {
        let users = portal_persistence::users::UserRepository::new(self.test_db.db.clone());
        let hash = portal_app::password::hash(PASSWORD.to_owned())
            .await
            .unwrap();
        let user = users
            .create(email, email.split('@').next().unwrap(), "fr")
            .await
            .unwrap();
        users.set_password_hash(user.id, &hash).await.unwrap();
        if let Some(tenant) = tenant {
            portal_persistence::tenants::TenantRepository::new(self.test_db.db.clone())
                .add_member(tenant.id, user.id, role)
                .await
                .unwrap();
        }
        user.id
    }

    pub async fn firm_admin(&self, email: &str) {
        let hash = portal_app::password::hash(PASSWORD.to_owned())
            .await
            .unwrap();
        portal_persistence::users::UserRepository::new(self.test_db.db.clone())
            .upsert_firm_admin(email, "Admin", &hash, |_| None)
            .await
            .unwrap();
    }

    pub async fn world(&self) -> World {
        use portal_persistence::TenantRole;
        let tenants = portal_persistence::tenants::TenantRepository::new(self.test_db.db.clone());
        let acme = tenants
            .create(
                portal_persistence::tenants::TenantProfile {
                    slug: "acme".into(),
                    legal_name: "ACME SAS".into(),
                    siren: "732829320".into(),
                    vat_number: Some("FR44732829320".into()),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let globex = tenants
            .create(
                portal_persistence::tenants::TenantProfile {
                    slug: "globex".into(),
                    legal_name: "Globex SARL".into(),
                    siren: "443061841".into(),
                    vat_number: None,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        self.user("admin@acme.fr", Some(&acme), TenantRole::Admin)
            .await;
        self.user("member@acme.fr", Some(&acme), TenantRole::Member)
            .await;
        self.user("viewer@acme.fr", Some(&acme), TenantRole::Viewer)
            .await;
        self.user("admin@globex.fr", Some(&globex), TenantRole::Admin)
            .await;
        World { acme, globex }
    }
}

impl TestApp {
    pub async fn world_tenant_id(&self, slug: &str) -> uuid::Uuid {
        portal_persistence::tenants::TenantRepository::new(self.test_db.db.clone())
            .list_all()
            .await
            .unwrap()
            .into_iter()
            .find(|tenant| tenant.slug == slug)
            .unwrap()
            .id
            .as_uuid()
    }
}
