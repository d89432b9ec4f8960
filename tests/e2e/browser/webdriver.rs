//! A small WebDriver (W3C) client over reqwest, driving Debian's Chromium through its `chromedriver`: enough for
//! the browser tests (navigate, find by CSS, click, type, read, run scripts, wait, screenshot) and nothing more.
//!
//! Each [`Browser`] starts its own `chromedriver` on a free port, in its own process group, and ends it (and the
//! Chromium under it) when dropped. When the test is panicking at that moment, a screenshot and the page's HTML are
//! kept under `target/browser-screenshots/<test>.{png,html}`.

use base64::Engine;
use serde_json::{Value, json};
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key under which WebDriver names an element in JSON (W3C "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's codes for keys that are not characters.
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const SHIFT: &str = "\u{E008}";
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

/// An element found on the page (WebDriver's reference to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    id: String,
    /// How it was found, for messages.
    selector: String,
}

impl Element {
    /// The element as a script argument (`arguments[i]` in [`Browser::execute`]).
    pub fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

/// A WebDriver error answer (`no such element`, `javascript error`…).
#[derive(Debug)]
pub struct WebDriverError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// One headless Chromium, with the test's name for its screenshot.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    driver: Child,
    test: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

impl Browser {
    /// Starts `chromedriver` and a headless Chromium (1280×1000, no sandbox: tests run as root in CI).
    pub async fn start(test: &str) -> Self {
        require_browser();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping the browser ends Chromium's processes too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {CHROMEDRIVER}: {error}"));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Self {
            http,
            session: String::new(),
            driver,
            test: test.to_owned(),
        };
        eventually("chromedriver answers", Duration::from_secs(20), || async {
            let status = browser
                .http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()?;
            let body: Value = status.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|ready| *ready)
        })
        .await;
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
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
                },
            },
        });
        let created = browser
            .http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver accepts a new session");
        let body: Value = created.json().await.expect("a WebDriver answer");
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {body}"))
            .to_owned();
        browser.session = format!("{base}/session/{id}");
        browser
            .call(
                reqwest::Method::POST,
                "/timeouts",
                Some(json!({ "script": 60_000, "pageLoad": 60_000, "implicit": 0 })),
            )
            .await
            .expect("timeouts set");
        browser
    }

    /// One WebDriver command; its `value`, or the error it answered.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        // POST commands always carry a JSON body, even an empty one.
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| WebDriverError {
            error: "transport".to_owned(),
            message: error.to_string(),
        })?;
        let ok = response.status().is_success();
        let body: Value = response.json().await.map_err(|error| WebDriverError {
            error: "unreadable answer".to_owned(),
            message: error.to_string(),
        })?;
        let value = body.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(WebDriverError {
                error: value["error"].as_str().unwrap_or("unknown").to_owned(),
                message: value["message"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            })
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|error| panic!("WebDriver POST {path}: {error}"))
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None)
            .await
            .unwrap_or_else(|error| panic!("WebDriver GET {path}: {error}"))
    }

    /// Loads `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn title(&self) -> String {
        self.get("/title")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn element_of(value: &Value, selector: &str) -> Option<Element> {
        let id = value
            .get(ELEMENT_KEY)
            .or_else(|| value.as_object().and_then(|object| object.values().next()))?
            .as_str()?
            .to_owned();
        Some(Element {
            id,
            selector: selector.to_owned(),
        })
    }

    /// The first element matching a CSS selector, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
            .ok()?;
        Self::element_of(&found, css)
    }

    /// The first element matching a CSS selector; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(element) => element,
            None => panic!("no element matches `{css}` on {}", self.current_url().await),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|value| Self::element_of(value, css))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until an element matches `css` (the page may still be changing).
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        eventually(&format!("an element matches `{css}`"), timeout, || {
            self.try_find(css)
        })
        .await
    }

    pub async fn click(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.id),
            Some(json!({})),
        )
        .await
        .unwrap_or_else(|error| panic!("clicking `{}`: {error}", element.selector));
    }

    /// Types `text` into the element (it gets the focus first); [`keys`] codes press those keys.
    pub async fn send_keys(&self, element: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.id),
            Some(json!({ "text": text })),
        )
        .await
        .unwrap_or_else(|error| panic!("typing into `{}`: {error}", element.selector));
    }

    pub async fn clear(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.id),
            Some(json!({})),
        )
        .await
        .unwrap_or_else(|error| panic!("clearing `{}`: {error}", element.selector));
    }

    /// Finds `css`, empties it and types `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.clear(&element).await;
        self.send_keys(&element, text).await;
    }

    /// The element's rendered text.
    pub async fn text(&self, element: &Element) -> String {
        self.get(&format!("/element/{}/text", element.id))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
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
        self.get(&format!("/element/{}/attribute/{name}", element.id))
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// A DOM property (`value` of an input as typed, `checked`…).
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        self.get(&format!("/element/{}/property/{name}", element.id))
            .await
    }

    /// The element that has the keyboard focus.
    pub async fn active_element(&self) -> Element {
        let value = self.get("/element/active").await;
        Self::element_of(&value, ":focus").expect("an active element")
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
        .unwrap_or_else(|error| panic!("script failed: {error}\n{}", abbreviated(script)))
    }

    /// Runs `script`, which calls its last argument (`arguments[arguments.length - 1]`) with the result.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
        .unwrap_or_else(|error| panic!("async script failed: {error}\n{}", abbreviated(script)))
    }

    /// Waits until `expression` (JavaScript) is truthy on the page.
    pub async fn wait_until_script(&self, expression: &str, timeout: Duration) {
        let script = format!("return !!({expression});");
        eventually(&format!("`{expression}` holds"), timeout, || async {
            self.call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({ "script": script, "args": [] })),
            )
            .await
            .ok()
            .and_then(|value| value.as_bool())
            .filter(|holds| *holds)
        })
        .await;
    }

    /// Presses keys as a keyboard would, one after the other, on whatever has the focus (WebDriver actions).
    /// Each character of `keys` is pressed and released; [`keys`] codes are keys such as Tab or Enter.
    pub async fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": key.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": key.to_string() }));
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
        self.call(reqwest::Method::DELETE, "/actions", None)
            .await
            .unwrap_or_else(|error| panic!("releasing keys: {error}"));
    }

    /// Presses Shift+Tab (focus to the previous element).
    pub async fn press_shift_tab(&self) {
        let actions = json!([
            { "type": "keyDown", "value": keys::SHIFT },
            { "type": "keyDown", "value": keys::TAB },
            { "type": "keyUp", "value": keys::TAB },
            { "type": "keyUp", "value": keys::SHIFT },
        ]);
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
    }

    /// Makes the page's viewport `width`×`height` CSS pixels (a phone), below the window's own minimum
    /// (Chromium's DevTools command, which chromedriver passes on).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.post(
            "/goog/cdp/execute",
            json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": { "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false },
            }),
        )
        .await;
    }

    /// Back to the window's own viewport.
    pub async fn reset_viewport(&self) {
        self.post(
            "/goog/cdp/execute",
            json!({ "cmd": "Emulation.clearDeviceMetricsOverride", "params": {} }),
        )
        .await;
    }

    /// The visible viewport as PNG bytes.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.get("/screenshot").await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 PNG")
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
        let session = self.session.clone();
        let keep = std::thread::panicking().then(|| screenshot_dir().join(&self.test));
        // Drop may run inside the test's runtime, which cannot block on itself: a thread with its own runtime
        // and its own client saves what the failure looked like, then closes the session (and Chromium with it).
        let closed = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .unwrap_or_default();
                if session.is_empty() {
                    return;
                }
                if let Some(stem) = keep {
                    save_failure(&http, &session, &stem).await;
                }
                let _closed = http.delete(&session).send().await;
            });
        })
        .join();
        if closed.is_err() {
            eprintln!("closing the browser session failed");
        }
        // Whatever is left of chromedriver's process group (Chromium's helpers included).
        let group = format!("-{}", self.driver.id());
        let _killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _reaped = self.driver.wait();
    }
}

async fn save_failure(http: &reqwest::Client, session: &str, stem: &Path) {
    let Some(dir) = stem.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let read = |path: &'static str| async move {
        let response = http.get(format!("{session}{path}")).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        body["value"].as_str().map(str::to_owned)
    };
    if let Some(png) = read("/screenshot").await
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(png)
    {
        let path = stem.with_extension("png");
        if std::fs::write(&path, bytes).is_ok() {
            eprintln!("screenshot of the failure: {}", path.display());
        }
    }
    if let Some(html) = read("/source").await {
        let path = stem.with_extension("html");
        if std::fs::write(&path, html).is_ok() {
            eprintln!("page of the failure: {}", path.display());
        }
    }
}
