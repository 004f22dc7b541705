//! The dashboard of the example's operator, in a real browser (Debian's chromium): what
//! a person sees on the running platform, converged, drifting and losing a worker. Each
//! check reads the page the way its user does (rows, cards, event entries), and the
//! screenshots it takes are kept in target/dashboard/ (the README shows one).

use std::path::PathBuf;
use std::time::Duration;

use shoal_tests::browser::{Chromium, Page};
use shoal_tests::{Lab, repo_root};

/// `shoal run` on node1, as deploy/run-example starts it (`--listen 0.0.0.0:9850`).
pub const DASHBOARD: &str = "http://10.213.0.11:9850/";

/// Where the screenshots are kept.
pub fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("dashboard")
}

/// The page opened at 1280x800 on the converged example: every resource Synced and
/// Healthy, three nodes ready, the volume healthy, nothing to change, and no error in
/// the browser's console.
pub fn open_converged(chromium: &Chromium) -> Page {
    let page = chromium.open(DASHBOARD);
    page.wait_until(
        "14 resources Synced and Healthy, 3 nodes and the volume shown",
        "document.querySelectorAll('#resource-table tbody tr').length === 14 \
         && document.querySelectorAll('#node-map li.node').length === 3 \
         && document.querySelector('#volumes article[data-volume=storage]') !== null \
         && document.getElementById('plan-summary').textContent !== ''",
        Duration::from_secs(30),
    );
    let rows = page.eval(
        "[...document.querySelectorAll('#resource-table tbody tr')].map(r => \
           r.dataset.resource + ' ' + r.querySelector('.sync').textContent + ' ' \
           + r.querySelector('.health').textContent).sort()",
    );
    let expected: Vec<String> = [
        "Config/loadbalancer-conf",
        "GlusterVolume/storage",
        "Network/backend",
        "Network/frontend",
        "Node/node1",
        "Node/node2",
        "Node/node3",
        "Secret/db_root_password",
        "Secret/wp_db_password",
        "Service/db",
        "Service/fileserver",
        "Service/http",
        "Service/loadbalancer",
        "Service/php-fpm",
    ]
    .iter()
    .map(|r| format!("{r} \u{2713} Synced \u{2713} Healthy"))
    .collect();
    assert_eq!(rows, serde_json::json!(expected));
    assert_eq!(
        page.eval("document.getElementById('resources-summary').textContent"),
        "14 of 14 Synced and Healthy"
    );
    assert_eq!(
        node_states(&page),
        serde_json::json!(["node1 ready", "node2 ready", "node3 ready"])
    );
    assert_eq!(
        page.eval("document.querySelector('#volumes article').dataset.state"),
        "healthy"
    );
    assert_eq!(
        page.eval("document.getElementById('plan-body').textContent"),
        "\u{2713} No changes. The swarm matches desired-state."
    );
    // With the keyboard: the first Tab reaches the skip link, Enter follows it.
    page.press_key("Tab");
    assert_eq!(page.focused(), "a: Skip to resources");
    page.press_key("Enter");
    assert_eq!(page.eval("location.hash"), "#resources");
    assert_eq!(page.console_errors(), Vec::<String>::new());
    page.screenshot(&screenshots().join("overview.png"));
    page
}

fn node_states(page: &Page) -> serde_json::Value {
    page.eval(
        "[...document.querySelectorAll('#node-map li.node')].map(n => n.dataset.node + ' ' + n.dataset.state)",
    )
}

/// `docker service scale http=3` by hand: the drift and its correction appear in the
/// event list as they happen, without a reload.
pub fn drift_appears_live(page: &Page, lab: &Lab) {
    page.eval("window.notReloaded = true");
    lab.docker(&["service", "scale", "--detach", "http=3"]);
    let entry = |reason: &str| {
        format!(
            "document.querySelector('#event-list li[data-reason={reason}][data-resource=\"Service/http\"]') !== null"
        )
    };
    page.wait_until(
        "DriftDetected and DriftCorrected for Service/http in the event list",
        &format!("{} && {}", entry("DriftDetected"), entry("DriftCorrected")),
        Duration::from_secs(60),
    );
    assert_eq!(page.eval("window.notReloaded === true"), true);
    let detected = page.eval(
        "document.querySelector('#event-list li[data-reason=DriftDetected][data-resource=\"Service/http\"] .fields').textContent",
    );
    assert_eq!(detected, "replicas: desired 2, live 3");
    // Filtered by resource and reason, only those entries stay.
    page.eval(
        "(() => { const r = document.getElementById('filter-resource'); r.value = 'Service/http'; \
          r.dispatchEvent(new Event('change')); const s = document.getElementById('filter-reason'); \
          s.value = 'DriftCorrected'; s.dispatchEvent(new Event('change')); })()",
    );
    let shown = page.eval(
        "[...document.querySelectorAll('#event-list > li')].map(e => e.dataset.reason + ' ' + e.dataset.resource)",
    );
    assert_eq!(shown, serde_json::json!(["DriftCorrected Service/http"]));
    page.screenshot(&screenshots().join("events-filtered.png"));
    page.eval(
        "(() => { for (const id of ['filter-resource', 'filter-reason']) { const s = document.getElementById(id); \
          s.value = ''; s.dispatchEvent(new Event('change')); } })()",
    );
    assert_eq!(page.console_errors(), Vec::<String>::new());
}

/// While `node` is down: its card says so, the replicated tasks it ran run on the other
/// nodes, and its brick is offline. Returns how long it took to see all of it.
pub fn crash_shown(page: &Page, node: &str) -> Duration {
    let started = std::time::Instant::now();
    page.wait_until(
        &format!("{node} down on the node map"),
        &format!(
            "document.querySelector('#node-map li.node[data-node={node}]').dataset.state === 'down'"
        ),
        Duration::from_secs(120),
    );
    // http and php-fpm run 2 tasks, at most 1 per node: both on the two nodes left.
    let elsewhere = |service: &str| {
        format!(
            "document.querySelectorAll('#node-map li.node:not([data-node={node}]) li[data-service={service}][data-state=running]').length === 2 \
             && document.querySelectorAll('#node-map li.node[data-node={node}] li[data-service={service}]').length === 0"
        )
    };
    page.wait_until(
        &format!("http's and php-fpm's tasks running on the nodes other than {node}"),
        &format!("{} && {}", elsewhere("http"), elsewhere("php-fpm")),
        Duration::from_secs(30),
    );
    page.wait_until(
        &format!("the volume degraded with {node}'s brick offline"),
        &format!(
            "(() => {{ const v = document.querySelector('#volumes article[data-volume=storage]'); \
               const row = [...v.querySelectorAll('table.brick tbody tr')].find(r => r.cells[1].textContent === '{node}'); \
               return v.dataset.state === 'degraded' && row && row.cells[2].textContent.includes('offline'); }})()"
        ),
        Duration::from_secs(30),
    );
    let took = started.elapsed();
    page.screenshot(&screenshots().join("node-down.png"));
    page.set_viewport(390, 844);
    page.wait_until(
        "the page at a phone's width without sideways scrolling",
        "document.documentElement.scrollWidth <= window.innerWidth",
        Duration::from_secs(5),
    );
    page.screenshot(&screenshots().join("node-down-phone.png"));
    page.set_viewport(1280, 800);
    assert_eq!(page.console_errors(), Vec::<String>::new());
    took
}
