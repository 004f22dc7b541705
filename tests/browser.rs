//! The browser driver (shoal_tests::browser) against a real chromium and pages served
//! here, no lab: a page's console errors and uncaught exceptions from its first load are
//! recorded, and only those; waits see changes made later; eval returns JSON; a
//! screenshot is a PNG of the whole page; the viewport narrows to a phone's; the keyboard
//! moves the focus and presses buttons. Without chromium the test fails with the way to
//! install it, never skips.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use serde_json::json;
use shoal_tests::browser::Chromium;

const WAIT: Duration = Duration::from_secs(10);

/// Logs one error, throws another once loaded, changes #late half a second later; its
/// button changes #status; it is taller than the window, for the screenshot. Both pages
/// name an inline icon: chromium would ask for /favicon.ico, and its 404 is an error.
const NOISY: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>noisy</title><link rel="icon" href="data:,"></head>
<body>
<p id="status">waiting</p>
<p id="late">not yet</p>
<button id="go" onclick="document.getElementById('status').textContent = 'clicked'">Go</button>
<div style="height: 2000px"></div>
<script>
console.error("boom");
window.addEventListener("load", () => setTimeout(() => { throw new Error("kaboom"); }, 0));
setTimeout(() => { document.getElementById("late").textContent = "arrived"; }, 500);
</script>
</body></html>
"#;

const CLEAN: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>clean</title><link rel="icon" href="data:,"></head>
<body><p>nothing wrong here</p><script>console.log("fine");</script></body></html>
"#;

/// Serves NOISY at / and CLEAN at /clean on 127.0.0.1 (one request a connection), 404
/// elsewhere; returns the base URL.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    base
}

fn answer(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    // The headers: read to the blank line, so closing does not reset the connection.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/" => ("200 OK", NOISY),
        "/clean" => ("200 OK", CLEAN),
        _ => ("404 Not Found", "not found"),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it should have panicked");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_page_is_driven_and_its_errors_recorded() {
    let base = serve();
    let started = Instant::now();
    let chromium = Chromium::launch(800, 600);
    let page = chromium.open(&format!("{base}/"));
    eprintln!(
        "chromium launched and the page loaded in {:?}",
        started.elapsed()
    );

    page.wait_until(
        "#late to change",
        "document.getElementById('late').textContent === 'arrived'",
        WAIT,
    );
    // Lines 9 and 10 of NOISY.
    let expected = [
        format!("console.error: boom ({base}/:9)"),
        format!("Uncaught Error: kaboom ({base}/:10)"),
    ];
    assert_eq!(page.console_errors(), expected);

    assert_eq!(
        page.eval("({ title: document.title, list: [1, 'two', null], ok: true })"),
        json!({ "title": "noisy", "list": [1, "two", null], "ok": true })
    );
    assert_eq!(
        page.eval("new Promise(r => setTimeout(() => r(42), 10))"),
        json!(42)
    );
    assert_eq!(page.eval("undefined"), json!(null));
    let thrown = panic_message(|| {
        page.eval("nosuch.thing");
    });
    assert!(
        thrown.contains("ReferenceError: nosuch is not defined"),
        "{thrown}"
    );

    let timed_out =
        panic_message(|| page.wait_until("a miracle", "false", Duration::from_millis(300)));
    assert!(timed_out.contains("a miracle"), "{timed_out}");
    assert!(
        timed_out.contains("arrived"),
        "the page's text is shown: {timed_out}"
    );

    // The keyboard: the button is the first thing Tab reaches, Enter presses it.
    page.press_key("Tab");
    assert_eq!(page.focused(), "button#go: Go");
    page.press_key("Enter");
    page.wait_until(
        "the button to be pressed",
        "document.getElementById('status').textContent === 'clicked'",
        WAIT,
    );
    page.eval("document.getElementById('status').textContent = 'waiting'");
    page.click("#go");
    assert_eq!(
        page.eval("document.getElementById('status').textContent"),
        json!("clicked")
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shots/noisy.png");
    page.screenshot(&path);
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        (1_000..5_000_000).contains(&png.len()),
        "{} bytes",
        png.len()
    );
    let (width, height) = png_size(&png);
    assert_eq!(width, 800, "the window's width");
    assert!(
        height > 2000,
        "the whole page, beyond the 600 pixels shown: {height}"
    );

    assert_eq!(page.eval("window.innerWidth"), json!(800));
    page.set_viewport(390, 844);
    assert_eq!(
        page.eval("[window.innerWidth, window.innerHeight]"),
        json!([390, 844])
    );
    page.set_viewport(800, 600);
    assert_eq!(page.eval("window.innerWidth"), json!(800));

    // What the test's own evaluations threw is not the page's error.
    assert_eq!(page.console_errors(), expected);
}

#[test]
fn a_clean_page_records_no_errors() {
    let base = serve();
    let chromium = Chromium::launch(800, 600);
    let page = chromium.open(&format!("{base}/clean"));
    assert_eq!(page.eval("document.title"), json!("clean"));
    assert_eq!(page.console_errors(), Vec::<String>::new());

    // A missing resource is a failed load, which the page reports.
    assert_eq!(
        page.eval("fetch('/missing').then(r => r.status)"),
        json!(404)
    );
    let deadline = Instant::now() + WAIT;
    while page.console_errors().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let errors = page.console_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("404"), "{errors:?}");
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}
