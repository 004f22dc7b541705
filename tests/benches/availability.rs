//! Whether the example platform keeps answering through a worker's crash and return, and
//! how fast it serves WordPress from Gluster, as a visitor sees it. A benchmark, never a
//! timed assertion.
//!
//! `cargo bench -p shoal-tests --bench availability`. Runs `deploy/run-example` first (the
//! README's main job: the example under `shoal run`, with its agents), unless SKIP_EXAMPLE
//! is set and it already runs, and installs WordPress through its install step unless it
//! is installed. Then:
//! - AT REST: WordPress's front page (built from the database), 100 requests through the
//!   load balancer (node1's host-mode port 80, the tree on the Gluster volume), alternating
//!   with 100 to the floor: the same page from a copy of the tree on node1's local disk,
//!   served by an nginx and a php-fpm of the same images on node1 (host port 8081).
//! - Through a crash: one request at a time to the front page, a 3 s timeout, 200 ms
//!   apart, in three phases: BEFORE (30 s), DURING (from `lab crash NODE`, NODE a worker
//!   running the most `http` and `php-fpm` tasks, to `lab restore NODE`, 90 s), AFTER (150 s: the
//!   node's return, the heal, the rebalance). For each: requests, failed ones (any answer
//!   but 200, or none within 3 s), the longest run of failures, latency p50/p99 of the
//!   answered ones.
//!
//! ONLY=at-rest or ONLY=crash runs one of the two.

use std::process::Command;
use std::time::{Duration, Instant};

use shoal_tests::probe::{self, Prober};
use shoal_tests::wordpress::{Browser, SITE_TITLE};
use shoal_tests::{busiest_worker, lab_script, nodes_running, repo_root};

const SITE: &str = "http://10.213.0.11";
const FLOOR: &str = "http://10.213.0.11:8081";
const FLOOR_TREE: &str = "/data/floor-wordpress";

fn docker(args: &[&str]) -> String {
    let mut full = vec!["exec", "node1", "--", "docker"];
    full.extend_from_slice(args);
    lab_script(&full)
}

/// The floor: the example's tree copied to node1's local disk, served by a php-fpm and
/// an nginx of the example's images on node1, with php-fpm's settings and database.
fn floor_up() {
    floor_down();
    lab_script(&[
        "exec",
        "node1",
        "--",
        "cp",
        "-a",
        "/data/storage/wordpress",
        FLOOR_TREE,
    ]);
    let tree = format!("type=bind,source={FLOOR_TREE},target=/var/www/html");
    // The password's version shoal generated (wp_db_password-xxxxxxxx), as php-fpm's.
    let password = docker(&[
        "secret",
        "ls",
        "--filter",
        "label=io.shoal.resource=wp_db_password",
        "--format",
        "{{.Name}}",
    ]);
    let password = password.lines().next().expect("shoal made wp_db_password");
    let php = format!(
        "service create --detach --name floor-php --constraint node.hostname==node1 \
         --network backend --mount {tree} \
         --secret source={password},target=wp_db_password \
         --env WORDPRESS_DB_HOST=tasks.db \
         --env WORDPRESS_DB_PASSWORD_FILE=/run/secrets/wp_db_password \
         --env WORDPRESS_HTTP_BLOCK_EXTERNAL=true --limit-memory 256M example/wordpress:1"
    );
    docker(&php.split_whitespace().collect::<Vec<_>>());
    // frontend too: a host-mode port needs a network with a way out (backend is internal).
    let http = format!(
        "service create --detach --name floor-http --constraint node.hostname==node1 \
         --network frontend --network backend --mount {tree},readonly --limit-memory 64M \
         --publish mode=host,target=80,published=8081 example/nginx:1 sh -c"
    );
    let mut args: Vec<&str> = http.split_whitespace().collect();
    // The http service's configuration, with PHP passed to the floor's php-fpm.
    args.push(
        "sed s/tasks.php-fpm/tasks.floor-php/ /etc/nginx/http.conf >/tmp/floor.conf \
         && exec nginx -c /tmp/floor.conf",
    );
    docker(&args);
    let deadline = Instant::now() + Duration::from_secs(120);
    while floor_get(&client(Duration::from_secs(5))).is_err() {
        assert!(
            Instant::now() < deadline,
            "the floor did not answer in 2 minutes"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn floor_down() {
    let _ = Command::new(repo_root().join("deploy/lab/lab"))
        .args([
            "exec",
            "node1",
            "--",
            "docker",
            "service",
            "rm",
            "floor-php",
            "floor-http",
        ])
        .output();
    std::thread::sleep(Duration::from_secs(2));
    lab_script(&["exec", "node1", "--", "rm", "-rf", FLOOR_TREE]);
}

fn client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The front page from the floor, asked for by the site's own host name (WordPress
/// redirects any other to it).
fn floor_get(client: &reqwest::blocking::Client) -> reqwest::Result<String> {
    client
        .get(format!("{FLOOR}/"))
        .header(reqwest::header::HOST, "10.213.0.11")
        .send()?
        .error_for_status()?
        .text()
}

/// Latency of the front page at rest: the site and the floor, alternating.
fn at_rest() {
    floor_up();
    let client = client(Duration::from_secs(30));
    let (mut site, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let began = Instant::now();
        let page = client
            .get(format!("{SITE}/"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        site.push(began.elapsed());
        assert!(
            page.contains(SITE_TITLE),
            "not WordPress's front page:\n{page}"
        );
        let began = Instant::now();
        let page = floor_get(&client).unwrap();
        floor.push(began.elapsed());
        assert!(
            page.contains(SITE_TITLE),
            "not the floor's front page:\n{page}"
        );
    }
    floor_down();
    site.sort();
    floor.sort();
    let line = |name: &str, sorted: &[Duration]| {
        println!(
            "  {name:<40} p50 {} ms, p99 {} ms",
            probe::percentile(sorted, 0.5).as_millis(),
            probe::percentile(sorted, 0.99).as_millis()
        )
    };
    println!("AT REST  WordPress's front page, 100 requests each, alternating:");
    line("Gluster, through the load balancer", &site);
    line("local disk on node1 (the floor)", &floor);
    println!(
        "  p50 ratio {:.2}x",
        probe::percentile(&site, 0.5).as_secs_f64() / probe::percentile(&floor, 0.5).as_secs_f64()
    );
}

fn through_a_crash() {
    let node = busiest_worker(&["http", "php-fpm"]);
    println!(
        "probing {SITE}/; crashing {node} (http on {:?}, php-fpm on {:?})",
        nodes_running("http"),
        nodes_running("php-fpm")
    );
    let prober = Prober::start(
        format!("{SITE}/"),
        Duration::from_secs(3),
        Duration::from_millis(200),
    );
    std::thread::sleep(Duration::from_secs(30));
    let crashed = prober.elapsed();
    lab_script(&["crash", &node]);
    std::thread::sleep(Duration::from_secs(90));
    let restored = prober.elapsed();
    lab_script(&["restore", &node]);
    std::thread::sleep(Duration::from_secs(150));
    let probes = prober.stop();
    println!(
        "BEFORE  {}",
        probe::summarize(&probe::between(&probes, Duration::ZERO, crashed))
    );
    println!(
        "DURING  {}",
        probe::summarize(&probe::between(&probes, crashed, restored))
    );
    println!(
        "AFTER   {}",
        probe::summarize(&probe::between(&probes, restored, Duration::MAX))
    );
    for run in probe::failure_runs(&probes) {
        println!(
            "  {} failed from {:.1} s to {:.1} s (crash at {:.1} s, restore at {:.1} s)",
            run.failed,
            run.from.as_secs_f64(),
            run.to.as_secs_f64(),
            crashed.as_secs_f64(),
            restored.as_secs_f64()
        );
    }
}

fn main() {
    if std::env::var_os("SKIP_EXAMPLE").is_none() {
        let status = Command::new(repo_root().join("deploy/run-example"))
            .status()
            .expect("deploy/run-example runs");
        assert!(status.success(), "deploy/run-example failed");
    }
    let site = Browser::new(SITE);
    if !site.get("/").1.contains(SITE_TITLE) {
        site.install("admin", "shoal-bench-admin");
    }
    // ONLY=at-rest or ONLY=crash runs one part.
    let only = std::env::var("ONLY").unwrap_or_default();
    if only != "crash" {
        at_rest();
    }
    if only != "at-rest" {
        through_a_crash();
    }
}
