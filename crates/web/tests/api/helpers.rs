use portal_persistence::testing::TestDatabase;
use portal_web::config::Config;
use portal_web::secret::Secret;
use portal_web::startup::Application;
use portal_web::state::AppState;
use portal_web::worker::JobRegistry;

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
        portal_web::telemetry::init("warn", false);
        let test_db = TestDatabase::new().await.expect("test database");
        let config = configure(test_config(&test_db));
        let app = Application::build_with(config, registry)
            .await
            .expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let stop = app.stop_handle();
        let running = Some(tokio::spawn(app.run_until_stopped()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
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
