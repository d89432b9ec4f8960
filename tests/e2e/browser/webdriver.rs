//! The browser tests' Chromium, driven through its `chromedriver` with the `fantoccini` WebDriver (W3C) client: this
//! module only starts and ends them, and gives the tests short calls that panic with a clear message.
//!
//! Each [`Browser`] starts its own `chromedriver` on a free port, in its own process group, and ends it (and the
//! Chromium under it) when dropped. When the test is panicking at that moment, a screenshot and the page's HTML are
//! kept under `target/browser-screenshots/<test>.{png,html}`.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::error::{CmdError, NewSessionError};
use fantoccini::key::Key;
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long one WebDriver command may go unanswered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// WebDriver's codes for keys that are not characters (fantoccini's `Key` as text, for [`Browser::press`]).
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const ARROW_DOWN: &str = "\u{E015}";
}

/// Where screenshots of failed tests are kept: `<workspace>/target/browser-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("browser-screenshots")
}

/// Panics with what to run when Chromium or its WebDriver is missing: a browser test never skips silently.
pub fn require_browser() {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: the browser tests need Debian's `{package}`; run `bash .ci/ensure-browser` \
             (it installs chromium, chromium-driver and axe-core)"
        );
    }
}

/// An element found on the page, with how it was found (for messages).
#[derive(Debug, Clone)]
pub struct Element {
    element: fantoccini::elements::Element,
    selector: String,
}

impl Element {
    /// The element as a script argument (`arguments[i]` in [`Browser::execute`]).
    pub fn json(&self) -> Value {
        serde_json::to_value(&self.element).expect("an element reference is JSON")
    }

    /// What is being done to it, for [`must`]: "clicking `button[type=submit]`".
    fn doing(&self, verb: &str) -> String {
        format!("{verb} `{}`", self.selector)
    }
}

/// A command of the session that fantoccini does not name (a DOM property as JSON, Chromium's DevTools).
#[derive(Debug)]
struct SessionCommand {
    method: http::Method,
    /// After `/session/<id>/`.
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// `chromedriver`'s process group, killed (Chromium's processes included) when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _reaped = self.0.wait();
    }
}

/// One headless Chromium, with the test's name for its screenshot.
pub struct Browser {
    client: Client,
    /// `http://127.0.0.1:<port>` and the session's id, to save the failure and close it from [`Drop`].
    base: String,
    session: String,
    test: String,
    // Last: dropped after the session is closed.
    _driver: Driver,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

/// The command's answer, or its error on one line; a command unanswered for [`COMMAND_TIMEOUT`] fails.
async fn answer<T>(command: impl Future<Output = Result<T, CmdError>>) -> Result<T, String> {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(CmdError::Standard(error))) => Err(format!(
            "{}: {}",
            error.error(),
            error.message.lines().next().unwrap_or_default()
        )),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_elapsed) => Err(format!("no answer in {COMMAND_TIMEOUT:?}")),
    }
}

/// The command's answer; panics saying what it was doing.
async fn must<T>(doing: &str, command: impl Future<Output = Result<T, CmdError>>) -> T {
    answer(command)
        .await
        .unwrap_or_else(|error| panic!("{doing}: {error}"))
}

impl Browser {
    /// Starts `chromedriver` and a headless Chromium (1280×1000, no sandbox: tests run as root in CI).
    pub async fn start(test: &str) -> Self {
        require_browser();
        let port = free_port();
        let driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so that dropping the browser ends Chromium's processes too.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {CHROMEDRIVER}: {error}")),
        );
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "unhandledPromptBehavior": "dismiss",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-crash-reporter",
                    "--no-first-run",
                    "--window-size=1280,1000",
                    "--lang=fr-FR",
                ],
            },
        });
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(
            serde_json::from_value(capabilities).expect("capabilities are an object"),
        );
        // chromedriver refuses connections until it listens; any other error is final.
        let client = eventually("chromedriver answers", Duration::from_secs(20), || async {
            match tokio::time::timeout(COMMAND_TIMEOUT, builder.connect(&base)).await {
                Ok(Ok(client)) => Some(client),
                Ok(Err(
                    NewSessionError::Failed(_)
                    | NewSessionError::FailedC(_)
                    | NewSessionError::Lost(_),
                )) => None,
                Ok(Err(error)) => panic!("chromedriver starts no Chromium session: {error}"),
                Err(_elapsed) => panic!("chromedriver started no session in {COMMAND_TIMEOUT:?}"),
            }
        })
        .await;
        let session = client
            .session_creation_response()
            .map(|created| created.session_id().to_owned())
            .expect("a session id");
        must(
            "setting the timeouts",
            client.update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                Some(Duration::ZERO),
            )),
        )
        .await;
        Self {
            client,
            base,
            session,
            test: test.to_owned(),
            _driver: driver,
        }
    }

    /// A command of this session that fantoccini does not name, by its path after `/session/<id>/`.
    fn session_command(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> impl Future<Output = Result<Value, CmdError>> {
        let path = path.to_owned();
        self.client.issue_cmd(SessionCommand { method, path, body })
    }

    /// Loads `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) {
        must(&format!("loading {url}"), self.client.goto(url)).await;
    }

    pub async fn current_url(&self) -> String {
        must("reading the URL", self.client.current_url())
            .await
            .to_string()
    }

    pub async fn title(&self) -> String {
        must("reading the title", self.client.title()).await
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> String {
        must("reading the page's HTML", self.client.source()).await
    }

    fn element(element: fantoccini::elements::Element, selector: &str) -> Element {
        Element {
            element,
            selector: selector.to_owned(),
        }
    }

    /// The first element matching a CSS selector, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let found = answer(self.client.find(Locator::Css(css))).await.ok()?;
        Some(Self::element(found, css))
    }

    /// The first element matching a CSS selector; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(element) => element,
            None => panic!("no element matches `{css}` on {}", self.current_url().await),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = must(
            &format!("finding every `{css}`"),
            self.client.find_all(Locator::Css(css)),
        )
        .await;
        found
            .into_iter()
            .map(|element| Self::element(element, css))
            .collect()
    }

    /// Waits until an element matches `css` (the page may still be changing).
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        eventually(&format!("an element matches `{css}`"), timeout, || {
            self.try_find(css)
        })
        .await
    }

    /// Clicks the element matching `css`, finding it again if the page replaced it in between (a live update
    /// swaps a section while the test reaches for its button: "stale element reference").
    pub async fn click_css(&self, css: &str, timeout: Duration) {
        eventually(&format!("a click on `{css}`"), timeout, || async {
            let element = self.try_find(css).await?;
            answer(element.element.click()).await.ok()
        })
        .await;
    }

    pub async fn click(&self, element: &Element) {
        must(&element.doing("clicking"), element.element.click()).await;
    }

    /// Types `text` into the element (it gets the focus first); [`keys`] codes press those keys.
    pub async fn send_keys(&self, element: &Element, text: &str) {
        must(
            &element.doing("typing into"),
            element.element.send_keys(text),
        )
        .await;
    }

    pub async fn clear(&self, element: &Element) {
        must(&element.doing("clearing"), element.element.clear()).await;
    }

    /// Finds `css`, empties it and types `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.clear(&element).await;
        self.send_keys(&element, text).await;
    }

    /// The element's rendered text.
    pub async fn text(&self, element: &Element) -> String {
        must(&element.doing("reading"), element.element.text()).await
    }

    /// The rendered text of the first element matching `css`, read in one step: a live update may replace the
    /// element between a find and a read, so a reference is not kept.
    pub async fn text_of(&self, css: &str) -> String {
        let text = self
            .execute(
                "var found = document.querySelector(arguments[0]); return found ? found.innerText : null;",
                vec![json!(css)],
            )
            .await;
        match text.as_str() {
            Some(text) => text.trim().to_owned(),
            None => panic!("no element matches `{css}` on {}", self.current_url().await),
        }
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        let doing = element.doing(&format!("reading attribute {name} of"));
        must(&doing, element.element.attr(name)).await
    }

    /// A DOM property (`value` of an input as typed, `checked`…), as the JSON it is (fantoccini's own `prop`
    /// turns it into a string).
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        let path = format!("element/{}/property/{name}", element.element.element_id());
        let doing = element.doing(&format!("reading property {name} of"));
        must(&doing, self.session_command(http::Method::GET, &path, None)).await
    }

    /// The element that has the keyboard focus.
    pub async fn active_element(&self) -> Element {
        Self::element(
            must("finding the focus", self.client.active_element()).await,
            ":focus",
        )
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        answer(self.client.execute(script, args))
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}\n{}", abbreviated(script)))
    }

    /// Runs `script`, which calls its last argument (`arguments[arguments.length - 1]`) with the result.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        answer(self.client.execute_async(script, args))
            .await
            .unwrap_or_else(|error| panic!("async script failed: {error}\n{}", abbreviated(script)))
    }

    /// Waits until `expression` (JavaScript) is truthy on the page.
    pub async fn wait_until_script(&self, expression: &str, timeout: Duration) {
        let script = format!("return !!({expression});");
        eventually(&format!("`{expression}` holds"), timeout, || async {
            answer(self.client.execute(&script, vec![]))
                .await
                .ok()
                .and_then(|value| value.as_bool())
                .filter(|holds| *holds)
        })
        .await;
    }

    /// Presses keys in order on whatever has the focus (WebDriver actions): each is pressed down and released.
    async fn key_actions(&self, keys: impl IntoIterator<Item = KeyAction>) {
        let keyboard = keys
            .into_iter()
            .fold(KeyActions::new("keyboard".to_owned()), KeyActions::then);
        must("pressing keys", self.client.perform_actions(keyboard)).await;
    }

    /// Presses keys as a keyboard would, one after the other, on whatever has the focus (WebDriver actions).
    /// Each character of `keys` is pressed and released; [`keys`] codes are keys such as Tab or Enter.
    pub async fn press(&self, keys: &str) {
        self.key_actions(
            keys.chars()
                .flat_map(|key| [KeyAction::Down { value: key }, KeyAction::Up { value: key }]),
        )
        .await;
        must("releasing keys", self.client.release_actions()).await;
    }

    /// Presses Shift+Tab (focus to the previous element).
    pub async fn press_shift_tab(&self) {
        let (shift, tab) = (Key::Shift.into(), Key::Tab.into());
        self.key_actions([
            KeyAction::Down { value: shift },
            KeyAction::Down { value: tab },
            KeyAction::Up { value: tab },
            KeyAction::Up { value: shift },
        ])
        .await;
    }

    /// Runs one of Chromium's DevTools commands (chromedriver passes it on).
    async fn devtools(&self, cmd: &str, params: Value) {
        let body = json!({ "cmd": cmd, "params": params });
        let command = self.session_command(http::Method::POST, "goog/cdp/execute", Some(body));
        must(&format!("DevTools {cmd}"), command).await;
    }

    /// Makes the page's viewport `width`×`height` CSS pixels (a phone), below the window's own minimum
    /// (Chromium's DevTools command, which chromedriver passes on).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let metrics =
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        self.devtools("Emulation.setDeviceMetricsOverride", metrics)
            .await;
    }

    /// Back to the window's own viewport.
    pub async fn reset_viewport(&self) {
        self.devtools("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }

    /// The visible viewport as PNG bytes.
    pub async fn screenshot(&self) -> Vec<u8> {
        must("taking a screenshot", self.client.screenshot()).await
    }

    /// Saves a screenshot as `target/browser-screenshots/<name>.png` and returns its path.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir().join(format!("{name}.png"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, self.screenshot().await).unwrap();
        path
    }
}

fn abbreviated(script: &str) -> String {
    script.chars().take(300).collect()
}

/// Polls `check` until it gives a value, or panics after `timeout` naming `what` was awaited.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {timeout:?} for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let (base, session) = (self.base.clone(), self.session.clone());
        let keep = std::thread::panicking().then(|| screenshot_dir().join(&self.test));
        // Drop may run inside the test's runtime, which cannot block on itself (and runs the session's task): a
        // thread with its own runtime joins the session, saves what the failure looked like, then closes it
        // (and Chromium with it). chromedriver's process group is killed after this.
        let closed = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let joined = Client::with_existing_session(&base, &session, HttpConnector::new());
                let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(20), joined).await
                else {
                    return;
                };
                if let Some(stem) = keep {
                    save_failure(&client, &stem).await;
                }
                let _closed = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
            });
        })
        .join();
        if closed.is_err() {
            eprintln!("closing the browser session failed");
        }
    }
}

async fn save_failure(client: &Client, stem: &Path) {
    let Some(dir) = stem.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let within = Duration::from_secs(20);
    if let Ok(Ok(png)) = tokio::time::timeout(within, client.screenshot()).await {
        let path = stem.with_extension("png");
        if std::fs::write(&path, png).is_ok() {
            eprintln!("screenshot of the failure: {}", path.display());
        }
    }
    if let Ok(Ok(html)) = tokio::time::timeout(within, client.source()).await {
        let path = stem.with_extension("html");
        if std::fs::write(&path, html).is_ok() {
            eprintln!("page of the failure: {}", path.display());
        }
    }
}
