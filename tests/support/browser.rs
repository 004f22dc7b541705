//! A real browser for the dashboard's end-to-end test: Debian's chromium, headless, driven
//! over the DevTools protocol. A page records its console errors, uncaught exceptions and
//! failed loads from before it navigates, so a test can demand a page that loads clean,
//! and a failed wait shows what the page showed.
//!
//! headless_chrome because its API is synchronous, like these tests (threads, no async
//! runtime), and it speaks the protocol to the installed chromium itself: no chromedriver,
//! no node, no browser downloaded (its "fetch" feature stays off; the machine reaches
//! package registries only). deploy/tools/install-chromium installs chromium. Its one
//! cost: a call to chromium takes up to 100 ms (its websocket reader polls at that pace),
//! so a test makes a few dozen, not thousands.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Emulation, Log, Page as Cdp, Runtime};
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The flags chromium needs on a test machine. Root has no sandbox; there is no GPU; and
/// without the background-networking ones chromium's own connections (updates, sync, QUIC
/// probes) are refused by the closed network and fill its log, slowing the start. Hidden
/// scrollbars (as puppeteer has them) leave the page the window's whole width, in layout
/// and in screenshots. headless_chrome passes some of these by default: they are named
/// here all the same, so a new version of its defaults cannot take one away.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// How long the connection to chromium may stay silent: headless_chrome drops it after
/// 30 seconds without a browser event by default, shorter than a test may wait for the
/// lab between two looks at a page. It also bounds a single protocol call.
const IDLE: Duration = Duration::from_secs(600);

/// A headless chromium with a fresh profile; killed, and its profile removed, once it and
/// its pages are dropped.
pub struct Chromium {
    running: Arc<Running>,
}

/// The browser process and its profile (`--user-data-dir`), shared with the pages.
struct Running {
    browser: Option<Browser>,
    profile: PathBuf,
}

impl Running {
    fn browser(&self) -> &Browser {
        self.browser.as_ref().expect("chromium runs until dropped")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.browser.take()); // kills chromium
        // Its helper processes outlive it by a moment and write to the profile as they go
        // (headless_chrome's own cleanup loses that race now and then): retry.
        for _ in 0..50 {
            match std::fs::remove_dir_all(&self.profile) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => return,
            }
        }
        eprintln!(
            "chromium's profile {} is left behind",
            self.profile.display()
        );
    }
}

impl Chromium {
    /// Starts chromium with a window of `width`x`height` CSS pixels. Panics when chromium
    /// is not installed (never skips: a test that needs it fails) or does not start.
    pub fn launch(width: u32, height: u32) -> Chromium {
        assert!(
            Path::new(CHROMIUM).exists(),
            "chromium is not installed: deploy/tools/install-chromium installs it"
        );
        let profile = tempfile::Builder::new()
            .prefix("shoal-chromium-")
            .tempdir()
            .expect("a temporary directory for chromium's profile")
            .keep();
        let mut running = Running {
            browser: None,
            profile,
        };
        let args: Vec<&std::ffi::OsStr> = FLAGS.iter().map(|f| f.as_ref()).collect();
        let options = LaunchOptions::default_builder()
            .path(Some(CHROMIUM.into()))
            .user_data_dir(Some(running.profile.clone()))
            .sandbox(false)
            .window_size(Some((width, height)))
            .idle_browser_timeout(IDLE)
            .args(args)
            .build()
            .expect("chromium's launch options");
        let browser = Browser::new(options).unwrap_or_else(|e| panic!("chromium: {e:#}"));
        running.browser = Some(browser);
        Chromium {
            running: Arc::new(running),
        }
    }

    /// A new tab navigated to `url`, once loaded (the network almost idle). Panics when the
    /// page cannot be reached.
    pub fn open(&self, url: &str) -> Page {
        let tab = self
            .running
            .browser()
            .new_tab()
            .unwrap_or_else(|e| panic!("a new tab: {e:#}"));
        let errors = Arc::new(Mutex::new(Vec::new()));
        record_errors(&tab, &errors);
        tab.navigate_to(url)
            .and_then(|tab| tab.wait_until_navigated())
            .unwrap_or_else(|e| panic!("opening {url}: {e:#}"));
        Page {
            tab,
            errors,
            _running: Arc::clone(&self.running),
        }
    }
}

/// Listens for what a page reports as an error: console.error (and failed console.assert),
/// uncaught exceptions (Runtime), and what the browser logs at level error (Log: failed
/// loads, a 404 of a script or a fetch). Set up before navigating, so the first load counts.
fn record_errors(tab: &Tab, errors: &Arc<Mutex<Vec<String>>>) {
    let sink = Arc::clone(errors);
    let listener = move |event: &Event| {
        if let Some(error) = describe_error(event) {
            sink.lock().unwrap().push(error);
        }
    };
    tab.add_event_listener(Arc::new(listener))
        .expect("listening to the tab");
    tab.enable_runtime()
        .and_then(|tab| tab.enable_log())
        .unwrap_or_else(|e| panic!("enabling the tab's Runtime and Log: {e:#}"));
}

/// An error event as a line: its text, then where it came from (`url:line`, 1-based).
fn describe_error(event: &Event) -> Option<String> {
    match event {
        Event::RuntimeConsoleAPICalled(called) => console_error(&called.params),
        Event::RuntimeExceptionThrown(thrown) => {
            Some(exception_text(&thrown.params.exception_details))
        }
        Event::LogEntryAdded(added) => {
            let entry = &added.params.entry;
            if entry.level != Log::LogEntryLevel::Error {
                return None;
            }
            let at = entry
                .url
                .as_deref()
                .map(|u| (u, entry.line_number.map_or(0, |l| l + 1)));
            Some(located(entry.text.clone(), at))
        }
        _ => None,
    }
}

/// "console.error: its arguments (url:line)"; console.assert's failures too.
fn console_error(params: &Runtime::events::ConsoleAPICalledEventParams) -> Option<String> {
    use Runtime::ConsoleAPICalledEventTypeOption::{Assert, Error};
    let call = match params.Type {
        Error => "console.error",
        Assert => "console.assert",
        _ => return None,
    };
    let text: Vec<String> = params.args.iter().map(remote_text).collect();
    let frame = params
        .stack_trace
        .as_ref()
        .and_then(|s| s.call_frames.first());
    let at = frame.map(|f| (f.url.as_str(), f.line_number + 1));
    Some(located(format!("{call}: {}", text.join(" ")), at))
}

/// `text (url:line)`; a line of 0 is unknown and left out.
fn located(text: String, at: Option<(&str, u32)>) -> String {
    match at {
        None | Some(("", _)) => text,
        Some((url, 0)) => format!("{text} ({url})"),
        Some((url, line)) => format!("{text} ({url}:{line})"),
    }
}

/// "Uncaught Error: message (url:line)": the exception's own first line rather than its
/// whole stack.
fn exception_text(details: &Runtime::ExceptionDetails) -> String {
    let description = details
        .exception
        .as_ref()
        .map(remote_text)
        .and_then(|d| d.lines().next().map(str::to_string));
    let text = match description {
        Some(description) => format!("{} {description}", details.text),
        None => details.text.clone(),
    };
    let url = details.url.as_deref().unwrap_or_default();
    located(text, Some((url, details.line_number + 1)))
}

/// A console argument or thrown value as a person reads it: strings bare, objects by
/// their description (an Error's is its stack), the rest as JSON.
fn remote_text(object: &Runtime::RemoteObject) -> String {
    match (&object.value, &object.description) {
        (Some(Value::String(text)), _) => text.clone(),
        (_, Some(description)) => description.clone(),
        (Some(value), None) => value.to_string(),
        (None, None) => format!("{:?}", object.Type).to_lowercase(),
    }
}

/// One tab of a [`Chromium`] (which it keeps running); closed when dropped.
pub struct Page {
    tab: Arc<Tab>,
    errors: Arc<Mutex<Vec<String>>>,
    _running: Arc<Running>,
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.tab.close(false);
    }
}

impl Page {
    /// The errors the page reported so far, since before it was opened, in order.
    pub fn console_errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }

    /// The JSON value of a JavaScript expression, a promise's once it settles. Panics with
    /// the exception when it throws or rejects.
    pub fn eval(&self, js: &str) -> Value {
        self.try_eval(js)
            .unwrap_or_else(|error| panic!("evaluating {js}: {error}"))
    }

    /// The expression's value, or its exception as text. `undefined` is null.
    pub fn try_eval(&self, js: &str) -> Result<Value, String> {
        let evaluated = self
            .tab
            .call_method(evaluate(js))
            .map_err(|e| format!("{e:#}"))?;
        match evaluated.exception_details {
            Some(details) => Err(exception_text(&details)),
            None => Ok(evaluated.result.value.unwrap_or(Value::Null)),
        }
    }

    /// Polls `js_predicate` every 200 ms until it is truthy (an exception counts as not
    /// yet: the element may not be there). Panics after `timeout` with `what`, the last
    /// exception, and the text the page showed.
    pub fn wait_until(&self, what: &str, js_predicate: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let check = format!("!!({js_predicate})");
        let mut last_error = None;
        loop {
            match self.try_eval(&check) {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                Err(error) => last_error = Some(error),
            }
            if Instant::now() >= deadline {
                let last_error = last_error.as_deref().unwrap_or("none");
                panic!(
                    "waited {timeout:?} for {what} ({js_predicate}); last exception: \
                     {last_error}\nthe page showed:\n{}",
                    self.text(4000)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The page's visible text (`document.body.innerText`), cut to `max` characters.
    pub fn text(&self, max: usize) -> String {
        let text = match self.try_eval("document.body ? document.body.innerText : ''") {
            Ok(Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(error) => format!("(no text: {error})"),
        };
        match text.char_indices().nth(max) {
            Some((cut, _)) => format!("{}\n[... cut at {max} characters]", &text[..cut]),
            None => text,
        }
    }

    /// A PNG of the whole page, beyond the viewport, written to `path` (its directories
    /// made).
    pub fn screenshot(&self, path: &Path) {
        let size = self
            .tab
            .call_method(Cdp::GetLayoutMetrics(None))
            .unwrap_or_else(|e| panic!("the page's size: {e:#}"))
            .css_content_size;
        let clip = Cdp::Viewport {
            x: 0.0,
            y: 0.0,
            width: size.width,
            height: size.height,
            scale: 1.0,
        };
        let capture = Cdp::CaptureScreenshot {
            format: Some(Cdp::CaptureScreenshotFormatOption::Png),
            quality: None,
            clip: Some(clip),
            from_surface: Some(true),
            capture_beyond_viewport: Some(true),
            optimize_for_speed: None,
        };
        let data = self
            .tab
            .call_method(capture)
            .unwrap_or_else(|e| panic!("a screenshot: {e:#}"))
            .data;
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("a screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Lays the page out at `width`x`height` CSS pixels (390x844 for a phone), as a window
    /// of that size would: not a mobile emulation, so `window.innerWidth` is `width`
    /// whatever the page's viewport meta says.
    pub fn set_viewport(&self, width: u32, height: u32) {
        self.tab
            .call_method(Emulation::SetDeviceMetricsOverride {
                width,
                height,
                device_scale_factor: 1.0,
                mobile: false,
                scale: None,
                screen_width: None,
                screen_height: None,
                position_x: None,
                position_y: None,
                dont_set_visible_size: None,
                screen_orientation: None,
                viewport: None,
                display_feature: None,
                device_posture: None,
            })
            .unwrap_or_else(|e| panic!("a viewport of {width}x{height}: {e:#}"));
    }

    /// Presses and releases a key, as the keyboard would: "Tab", "Enter", "Escape", "a".
    pub fn press_key(&self, key: &str) {
        self.tab
            .press_key(key)
            .unwrap_or_else(|e| panic!("pressing {key}: {e:#}"));
    }

    /// The focused element as `tag#id: text` (its label, value or text, 80 characters), so a
    /// test can Tab through the page and say where the focus is.
    pub fn focused(&self) -> String {
        let js = "(() => { const e = document.activeElement; if (!e) return ''; \
                  const id = e.id ? '#' + e.id : ''; \
                  const text = (e.getAttribute('aria-label') || e.value || e.innerText || '') \
                  .trim().replace(/\\s+/g, ' ').slice(0, 80); \
                  return e.tagName.toLowerCase() + id + (text ? ': ' + text : ''); })()";
        match self.eval(js) {
            Value::String(focused) => focused,
            other => panic!("the focused element: {other}"),
        }
    }

    /// Clicks the first element matching a CSS selector with the mouse, once it exists
    /// (within 20 seconds), scrolled into view.
    pub fn click(&self, selector: &str) {
        self.tab
            .wait_for_element(selector)
            .and_then(|element| element.click().map(|_| ()))
            .unwrap_or_else(|e| panic!("clicking {selector}: {e:#}"));
    }
}

/// Runtime.evaluate returning the value itself (not a handle) and awaiting a promise.
fn evaluate(js: &str) -> Runtime::Evaluate {
    Runtime::Evaluate {
        expression: js.to_string(),
        object_group: None,
        include_command_line_api: None,
        silent: None,
        context_id: None,
        return_by_value: Some(true),
        generate_preview: None,
        user_gesture: Some(true),
        await_promise: Some(true),
        throw_on_side_effect: None,
        timeout: None,
        disable_breaks: None,
        repl_mode: None,
        allow_unsafe_eval_blocked_by_csp: None,
        unique_context_id: None,
        serialization_options: None,
    }
}
